// The pages work without this script; it only adds two comforts on a phone.
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

document.addEventListener("DOMContentLoaded", function () {
  hotelTotal();
  submitOnce();
});
