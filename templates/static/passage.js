// The pages work without this script; it only adds four comforts on a phone.
"use strict";

// The hotel total as nights and rate are typed, in whole cents (never floating point).
function cents(text) {
  var t = String(text).replace(/[\s$\u00a0\u202f]/g, "");
  t = t.indexOf(".") >= 0 ? t.replace(/,/g, "") : t.replace(",", ".");
  var m = /^(\d{1,6})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return null;
  return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
}

function format(total, lang) {
  var whole = String(Math.floor(total / 100));
  var part = String(total % 100).padStart(2, "0");
  var sep = lang === "fr" ? "\u00a0" : ",";
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  return lang === "fr" ? whole + "," + part + "\u00a0$" : "$" + whole + "." + part;
}

function hotelTotal() {
  var out = document.getElementById("hotel-total");
  if (!out) return;
  var nights = document.getElementById("nights");
  var rate = document.getElementById("nightly_rate");
  function update() {
    var n = parseInt(nights.value, 10);
    var r = cents(rate.value);
    out.textContent = n > 0 && r !== null ? format(n * r, out.dataset.lang) : "\u2014";
  }
  nights.addEventListener("input", update);
  rate.addEventListener("input", update);
  update();
}

// A second tap while the first submission travels would only resend the same idempotency
// key (the server answers it once), but a disabled button tells the thumb it was heard.
function submitOnce() {
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      var submitter = event.submitter;
      if (submitter && submitter.name === "action") return;
      form.dataset.sent = "1";
    });
  });
}

// Travel places: show the province for a place in Canada and the country for a place
// abroad (the other one is disabled, so it is not sent), and suggest the province of a
// Canadian city from the gazetteer as it is typed. The server checks all of it again.
function places() {
  document.querySelectorAll("fieldset[data-place]").forEach(function (set) {
    var end = set.dataset.place;
    var city = document.getElementById(end + "_city");
    var province = document.getElementById(end + "_province");
    var list = document.getElementById(end + "_places");
    var hint = document.getElementById(end + "_suggested");
    function side() {
      var checked = set.querySelector("input[name='" + end + "_where']:checked");
      return checked ? checked.value : "";
    }
    function show() {
      var now = side();
      set.querySelectorAll("[data-when]").forEach(function (part) {
        var on = part.dataset.when === now;
        part.hidden = !on;
        part.querySelectorAll("input, select").forEach(function (input) {
          input.disabled = !on;
        });
      });
    }
    set.querySelectorAll("input[name='" + end + "_where']").forEach(function (radio) {
      radio.addEventListener("change", show);
    });
    show();
    // A province the page chose (the organisation's own) may be replaced by the
    // gazetteer's; one the caseworker chose is never touched.
    province.addEventListener("change", function () {
      delete province.dataset.auto;
    });
    var asked = "";
    var timer = null;
    function lookUp() {
      var typed = city.value.trim();
      if (side() === "abroad" || typed.length < 2 || typed === asked) return;
      asked = typed;
      fetch("/places?q=" + encodeURIComponent(typed), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) {
          if (!found || city.value.trim() !== typed) return;
          list.textContent = "";
          found.places.forEach(function (p) {
            var option = document.createElement("option");
            option.value = p.city;
            option.label = p.city + ", " + p.province;
            list.appendChild(option);
          });
          hint.textContent = "";
          if (found.exact.length === 1) {
            if (!province.value || province.dataset.auto) {
              province.value = found.exact[0];
              province.dataset.auto = "1";
            }
            if (province.value === found.exact[0]) {
              hint.textContent = hint.dataset.suggested.replace("{province}", province.selectedOptions[0].text);
            }
          } else if (found.exact.length > 1) {
            if (province.dataset.auto) {
              province.value = "";
              delete province.dataset.auto;
            }
            hint.textContent = hint.dataset.several.replace("{provinces}", found.exact.join(", "));
          }
        })
        .catch(function () {});
    }
    city.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookUp, 200);
    });
    city.addEventListener("change", lookUp);
  });
}

// A donations file chosen on the phone is read into the field the form sends (without
// this script the file's text is pasted there, and the file picker stays hidden).
function fileInto() {
  document.querySelectorAll("[data-file]").forEach(function (part) {
    part.hidden = false;
  });
  document.querySelectorAll("input[type=file][data-into]").forEach(function (input) {
    var field = document.getElementById(input.dataset.into);
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var reader = new FileReader();
      reader.onload = function () {
        field.value = String(reader.result);
      };
      reader.readAsText(file, "utf-8");
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  hotelTotal();
  submitOnce();
  places();
  fileInto();
});
