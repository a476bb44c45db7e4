// The time zone settings: until the user has chosen a zone, select the
// one their browser is set to (when the list offers it) and say so. The
// page works without it; saving is still the user's click.
"use strict";
const form = document.getElementById("time-zone-form");
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const select = document.getElementById("time_zone");
if (form && form.hasAttribute("data-suggest-browser-zone") && zone && select) {
  const option = Array.from(select.options).find((candidate) => candidate.value === zone);
  if (option) {
    select.value = zone;
    const note = document.getElementById("browser-zone");
    note.querySelector("strong").textContent = zone;
    note.hidden = false;
  }
}
