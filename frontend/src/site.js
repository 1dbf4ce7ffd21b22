// Site-wide behaviour loaded by base.html on every page: the language menu
// applies as soon as it changes (its "Go" button stays as the no-script fallback).
const form = document.querySelector(".lang-form");
if (form) {
  const select = form.querySelector("select");
  const submit = form.querySelector(".lang-submit");
  if (select && submit) {
    submit.classList.add("visually-hidden");
    select.addEventListener("change", () => form.submit());
  }
}
