// Review view: a row and its box on the page image highlight each other; the LOINC boxes search the terminology.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("tr.result"));
  const rects = Array.from(document.querySelectorAll("rect.region"));

  function select(index, { scrollBox = true, scrollRow = false, focusRow = false } = {}) {
    rows.forEach((r) => { const on = r.dataset.row === index; r.classList.toggle("selected", on); if (on) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current"); });
    rects.forEach((b) => b.classList.toggle("selected", b.dataset.row === index));
    const box = document.getElementById("region-" + index);
    const row = document.getElementById("row-" + index);
    if (box && scrollBox) box.scrollIntoView({ block: "center", behavior: "smooth" });
    if (row && scrollRow) row.scrollIntoView({ block: "center", behavior: "smooth" });
    if (row && focusRow) row.focus({ preventScroll: true });
  }

  rows.forEach((row) => {
    row.addEventListener("click", () => select(row.dataset.row));
    row.addEventListener("focusin", () => select(row.dataset.row));
    row.addEventListener("keydown", (event) => {
      if (event.target !== row) return; // typing in a cell keeps its own keys
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(row.dataset.row); }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const next = rows[rows.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1)];
        if (next) next.focus();
      }
    });
  });
  rects.forEach((rect) => rect.addEventListener("click", () => select(rect.dataset.row, { scrollBox: false, scrollRow: true, focusRow: true })));

  // LOINC search: the focused box's text fills the shared datalist (code as value, name as label).
  const options = document.getElementById("loinc-options");
  let timer = null;
  document.querySelectorAll("input.loinc").forEach((input) => {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const query = input.value.trim();
      if (query.length < 2) return;
      timer = setTimeout(async () => {
        const response = await fetch(options.dataset.searchUrl + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const { tests } = await response.json();
        options.replaceChildren(...tests.map((t) => { const o = document.createElement("option"); o.value = t.loinc; o.label = t.display + (t.units.length ? " (" + t.units.join(", ") + ")" : ""); return o; }));
        const hit = tests.find((t) => t.loinc === query);
        if (hit) document.getElementById(input.getAttribute("aria-describedby")).textContent = hit.display;
      }, 200);
    });
  });

  // Choosing a patient in the search list means "another existing patient".
  const existing = document.getElementById("patient-existing");
  const picked = document.getElementById("review-patient-id");
  if (existing && picked) picked.addEventListener("change", () => { if (picked.value) existing.checked = true; });

  const reject = document.getElementById("reject");
  if (reject) reject.addEventListener("click", (event) => {
    if (!window.confirm("Mark this report and all its results as entered-in-error?")) event.preventDefault();
  });
})();
