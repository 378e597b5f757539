//! The addresses Passage puts in the mail it writes, for a reader to follow: the HTTP edge
//! serves them, and the modules that write mail build them here, so that none of them
//! names a route of its own.

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// Where a donor stops receiving reports, with their unsubscribe token: a page in their
/// language (the link in the email's text and HTML).
pub fn donor_unsubscribe(base_url: &str, token: &str) -> String {
    format!("{}/donor/unsubscribe?token={token}", base(base_url))
}

/// The same, for mail clients' one-click unsubscribe (RFC 8058, the `List-Unsubscribe`
/// header): the API's route, which a mail client POSTs to and which answers JSON.
pub fn donor_one_click_unsubscribe(base_url: &str, token: &str) -> String {
    format!("{}/api/v1/donor/unsubscribe?token={token}", base(base_url))
}

/// A donor report's page, where a treasurer reads, seals or co-signs it (a browser not
/// signed in is asked to sign in first and comes back to it; the API's route would answer
/// it with 401 JSON).
pub fn report(base_url: &str, report_id: &str) -> String {
    format!("{}/reports/{report_id}", base(base_url))
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_join_the_base_once() {
        assert_eq!(
            super::report("https://x.example.org/", "r1"),
            "https://x.example.org/reports/r1"
        );
    }
}
