// Patient search boxes: typing refreshes the select below with matching patients.
(function () {
  "use strict";
  document.querySelectorAll(".patient-picker").forEach((picker) => {
    const query = picker.querySelector(".patient-query");
    const select = picker.querySelector(".patient-id");
    const empty = select.options[0].cloneNode(true);
    let timer = null;
    query.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const response = await fetch(picker.dataset.searchUrl + "?q=" + encodeURIComponent(query.value.trim()), { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const { patients } = await response.json();
        const choices = patients.map((p) => { const o = document.createElement("option"); o.value = p.id; o.textContent = p.label + (p.birth_date ? " · born " + p.birth_date : "") + " · " + p.id; return o; });
        select.replaceChildren(empty.cloneNode(true), ...choices);
        if (choices.length === 1) { select.value = choices[0].value; select.dispatchEvent(new Event("change")); }
      }, 200);
    });
    query.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); }); // searching, not submitting
  });
})();
