//! What every page request carries, resolved once by [`middleware`]: who is signed in
//! (from the session cookie), the language, and the CSRF token. The middleware also turns
//! refusals into pages in the reader's language and sets the security headers.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;

use super::i18n;
use crate::domain::{Language, Role};
use crate::http::error::ApiError;
use crate::http::extractor::{AuthUser, authenticate};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "passage_session";
pub const CSRF_COOKIE: &str = "passage_csrf";
pub const LANGUAGE_COOKIE: &str = "passage_lang";

/// No inline script or style anywhere: the pages load one stylesheet and one script from
/// this server and nothing else (the script fetches only from it: the travel form's
/// suggestions), and may not be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
pub struct Context {
    pub user: Option<AuthUser>,
    pub language: Language,
    /// The value every form must send back in its `csrf` field.
    pub csrf: String,
    /// The page's path and query, where a language switch or a sign-in returns to.
    pub here: String,
    /// Cookies are marked `Secure` when Passage is served over https.
    pub secure: bool,
}

impl Context {
    pub fn t(&self, key: &str) -> String {
        i18n::text(self.language, key)
    }

    /// The signed-in user, or a refusal that sends the reader to the sign-in page (or, for
    /// a treasurer or admin who must set up a second factor, to its page).
    pub fn user(&self) -> Result<&AuthUser, PageError> {
        let user = self.user.as_ref().ok_or(PageError::SignIn)?;
        if user.must_enrol {
            return Err(PageError::Enrol);
        }
        Ok(user)
    }

    /// The signed-in user, enrolled or not: the second factor's own pages.
    pub fn user_enrolling(&self) -> Result<&AuthUser, PageError> {
        self.user.as_ref().ok_or(PageError::SignIn)
    }

    /// The signed-in user if they hold `role`.
    pub fn with_role(&self, role: Role) -> Result<&AuthUser, PageError> {
        let user = self.user()?;
        if user.has(role) {
            Ok(user)
        } else {
            Err(PageError::Refused(StatusCode::FORBIDDEN))
        }
    }

    pub fn cookie(&self, name: &'static str, value: String, max_age_secs: i64) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .max_age(time_secs(max_age_secs))
            .build()
    }
}

fn time_secs(secs: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(secs)
}

impl FromRequestParts<AppState> for Context {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, PageError> {
        parts
            .extensions
            .get::<Context>()
            .cloned()
            .ok_or(PageError::Refused(StatusCode::INTERNAL_SERVER_ERROR))
    }
}

/// Why a page could not be shown. The middleware renders it in the reader's language; the
/// service's own message (English, meant for API clients) goes to the log only.
#[derive(Debug, Clone)]
pub enum PageError {
    /// Not signed in, or the session ended: go to the sign-in page and come back.
    SignIn,
    /// A treasurer or admin without a second factor while one is required: set it up.
    Enrol,
    Refused(StatusCode),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        if matches!(e, ApiError::EnrolmentRequired(_)) {
            return PageError::Enrol;
        }
        match e.status() {
            StatusCode::UNAUTHORIZED => PageError::SignIn,
            status => {
                if status.is_server_error() {
                    tracing::error!(error = %e, "a page failed");
                } else {
                    tracing::info!(status = status.as_u16(), error = %e, "a page was refused");
                }
                PageError::Refused(status)
            }
        }
    }
}

impl From<crate::approval::FlowError> for PageError {
    fn from(e: crate::approval::FlowError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::cases::CaseError> for PageError {
    fn from(e: crate::cases::CaseError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        ApiError::Internal(format!("a template failed: {e}")).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            PageError::SignIn => StatusCode::UNAUTHORIZED,
            PageError::Enrol => StatusCode::FORBIDDEN,
            PageError::Refused(status) => *status,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether a POST comes from another site. Browsers say so in `Sec-Fetch-Site`; with
/// `Referrer-Policy: no-referrer` they send `Origin: null` even from our own pages, so
/// `Origin` decides only for browsers without Fetch Metadata. SameSite=Strict already
/// keeps the session cookie off a cross-site POST, and the CSRF token is checked besides.
fn cross_site(request: &Request) -> bool {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    match header("sec-fetch-site") {
        "" => {}
        site => return !matches!(site, "same-origin" | "none"),
    }
    let origin = header(header::ORIGIN.as_str());
    if origin.is_empty() || origin == "null" {
        return false;
    }
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin_host != header(header::HOST.as_str())
}

pub async fn middleware(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let secure = state.config.base_url.starts_with("https://");
    let mut set_cookies: Vec<Cookie<'static>> = Vec::new();

    let mut user = None;
    // A session this browser had that no longer opens anything (its account deactivated,
    // signed out elsewhere, its key retired): the sign-in page says so.
    let mut session_ended = false;
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        match authenticate(&state, &token).await {
            Ok(found) if idle_too_long(&state, &found) => {
                end_idle(&state, &found).await;
                set_cookies.push(expired(SESSION_COOKIE, secure));
            }
            Ok(found) => user = Some(found),
            Err(_) => {
                session_ended = true;
                set_cookies.push(expired(SESSION_COOKIE, secure));
            }
        }
    }
    let is_get = request.method() == Method::GET;
    let language = user
        .as_ref()
        .map(|u| u.language)
        .or_else(|| {
            jar.get(LANGUAGE_COOKIE)
                .and_then(|c| c.value().parse::<Language>().ok())
        })
        .or_else(|| {
            request
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(i18n::from_accept_language)
        })
        .unwrap_or(Language::En);
    let csrf = match jar.get(CSRF_COOKIE).map(|c| c.value().to_string()) {
        Some(token) if token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()) => token,
        _ => random_token(),
    };
    let context = Context {
        user,
        language,
        csrf: csrf.clone(),
        here: request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
        secure,
    };
    if jar.get(CSRF_COOKIE).map(|c| c.value()) != Some(csrf.as_str()) {
        set_cookies.push(context.cookie(CSRF_COOKIE, csrf, 60 * 60 * 24 * 30));
    }

    let mut response = if request.method() == Method::POST && cross_site(&request) {
        PageError::Refused(StatusCode::FORBIDDEN).into_response()
    } else {
        request.extensions_mut().insert(context.clone());
        next.run(request).await
    };

    if let Some(failure) = response.extensions_mut().remove::<PageError>() {
        response = match failure {
            // What was being done is not done: the sign-in page says why, and comes back
            // to the page (to home after a form: a form's address is not a page).
            PageError::SignIn if session_ended => {
                let back = if is_get { context.here.as_str() } else { "/" };
                see_other(&format!(
                    "/signin?ended=1&next={}",
                    super::pages::urlencode(back)
                ))
            }
            failure => super::pages::failure(&context, failure),
        };
    }
    for cookie in &set_cookies {
        set_cookie(&mut response, cookie);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Case pages must not stay in a shared phone's cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    response
}

/// Whether a page session was idle longer than its roles allow (`PASSAGE_IDLE_MINUTES`; a
/// person with several roles gets the shortest).
fn idle_too_long(state: &AppState, user: &AuthUser) -> bool {
    let limit =
        chrono::Duration::minutes(i64::from(state.config.idle_minutes.for_roles(&user.roles)));
    state.clock.now() - user.last_seen > limit
}

/// Ends an idle session, so its token opens nothing anywhere any more (the API included).
async fn end_idle(state: &AppState, user: &AuthUser) {
    let ended = crate::identity::sessions::end(
        &state.db,
        state.clock.now(),
        &crate::audit::Actor(format!("user:{}", user.id)),
        &user.id,
        Some(&user.jti),
        None,
        crate::identity::sessions::Ending::Idle,
    )
    .await;
    if let Err(e) = ended {
        tracing::warn!(error = %e, "could not end an idle session; it is refused on the pages anyway");
    }
}

pub fn expired(name: &'static str, secure: bool) -> Cookie<'static> {
    Cookie::build((name, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time_secs(0))
        .build()
}

/// Where to go after signing in, after a language switch or after an action (`next`,
/// `back`): only a path on this server, else home. Browsers drop tabs and line breaks from
/// a `Location` and read a backslash as a slash, so `/\t/evil.example` is `//evil.example`,
/// another host: what is kept is printable ASCII with no space or backslash, starting with
/// one `/` and not `//`, and the same holds of its path once percent-decoded (a reader
/// that decodes it again must not find another host either).
pub fn safe_return(target: &str) -> &str {
    if is_path_here(target) { target } else { "/" }
}

fn is_path_here(target: &str) -> bool {
    let plain = |s: &[u8]| {
        s.first() == Some(&b'/')
            && !matches!(s.get(1), Some(b'/' | b'\\'))
            && s.iter().all(|b| b.is_ascii_graphic() && *b != b'\\')
    };
    if !plain(target.as_bytes()) {
        return false;
    }
    // The query and fragment are this server's to read; only the path decides the host.
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let mut decoded = path.as_bytes().to_vec();
    for _ in 0..3 {
        let next = percent_decode(&decoded);
        if !plain(&next) {
            return false;
        }
        if next == decoded {
            break;
        }
        decoded = next;
    }
    true
}

/// `%XX` escapes turned into their bytes; anything else kept as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits make at most 255.
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// An id in a page's path (a request's, a report's): a value that is not one names
/// nothing here.
pub fn page_id(raw: &str) -> Result<String, PageError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| PageError::Refused(StatusCode::NOT_FOUND))
}

/// Adds `cookie` to a response.
pub fn set_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A 303 to a path on this server (home for anything else), never a panic on a value a
/// header cannot carry.
pub fn see_other(to: &str) -> Response {
    let to = HeaderValue::from_str(safe_return(to)).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// A path parameter of a page. A segment that does not decode (not UTF-8) names nothing
/// Passage has: the reader gets the "nothing here" page, not the framework's plain text.
pub struct Path<T>(pub T);

impl<T> FromRequestParts<AppState> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| PageError::Refused(StatusCode::NOT_FOUND))
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn a_return_address_is_a_path_here_or_home() {
        for here in [
            "/",
            "/cases",
            "/cases?after=a%20b",
            "/requests/1#top",
            "/a%2Fb",
        ] {
            assert_eq!(safe_return(here), here);
        }
        for away in [
            "",
            "cases",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/%2509/evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/ /evil.example",
            "/\r\nSet-Cookie: a=b",
            "/%0d%0aSet-Cookie:%20a=b",
            "/caf\u{e9}",
            "/\u{7f}",
            "https://evil.example",
        ] {
            assert_eq!(safe_return(away), "/", "{away:?}");
        }
    }
}
