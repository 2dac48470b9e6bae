// Review view: a row and its box on the page image highlight each other; the LOINC boxes search the
// terminology; rows to check are counted until each is corrected, accepted or removed (the server checks too);
// missing results can be added.
(function () {
  "use strict";
  const table = document.getElementById("results");
  const rows = Array.from(document.querySelectorAll("tr.result[data-row]"));
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

  function focusable() { return Array.from(document.querySelectorAll("tr.result")); }
  rows.forEach((row) => {
    row.addEventListener("click", () => select(row.dataset.row));
    row.addEventListener("focusin", () => select(row.dataset.row));
  });
  if (table) table.addEventListener("keydown", (event) => {
    const row = event.target.closest && event.target.closest("tr.result");
    if (!row || event.target !== row) return; // typing in a cell keeps its own keys
    if ((event.key === "Enter" || event.key === " ") && row.dataset.row !== undefined) { event.preventDefault(); select(row.dataset.row); }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const all = focusable();
      const next = all[all.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
    }
  });
  rects.forEach((rect) => rect.addEventListener("click", () => select(rect.dataset.row, { scrollBox: false, scrollRow: true, focusRow: true })));

  // Rows to check: open until edited, accepted as read, or removed.
  const openCount = document.getElementById("open-count");
  const confirmButton = document.getElementById("confirm");
  function edited(row) {
    return Array.from(row.querySelectorAll("input:not([type=hidden]):not([type=checkbox]), select")).some((field) =>
      field.tagName === "SELECT" ? Array.from(field.options).some((o) => o.selected !== o.defaultSelected) : field.value !== field.defaultValue);
  }
  function checked(row, kind) { const box = row.querySelector("input[name^='" + kind + "-']"); return Boolean(box && box.checked); }
  function refresh() {
    let open = 0;
    rows.forEach((row) => {
      const removed = checked(row, "remove");
      row.classList.toggle("removed", removed);
      const box = document.getElementById("region-" + row.dataset.row);
      if (box) box.classList.toggle("removed", removed);
      if (!row.classList.contains("to-check")) return;
      const resolved = removed || checked(row, "accept") || edited(row);
      row.classList.toggle("resolved", resolved);
      if (!resolved) open += 1;
    });
    if (!openCount) return;
    openCount.dataset.open = String(open);
    openCount.classList.toggle("open", open > 0);
    openCount.textContent = open ? open + (open === 1 ? " row" : " rows") + " to check before confirming: correct, accept or remove " + (open === 1 ? "it." : "each.") : "No rows left to check.";
    if (confirmButton) confirmButton.disabled = open > 0;
  }
  if (table) { table.addEventListener("input", refresh); table.addEventListener("change", refresh); }
  refresh();

  // LOINC search: the focused box's text fills the shared datalist (code as value, name as label).
  const options = document.getElementById("loinc-options");
  let timer = null;
  function showDisplay(input, tests) {
    const hit = tests.find((t) => t.loinc === input.value.trim());
    if (!hit) return;
    const display = document.getElementById(input.getAttribute("aria-describedby"));
    if (display) display.textContent = hit.display;
    const row = input.closest("tr");
    const name = row && row.classList.contains("added") ? row.querySelector("input.name") : null;
    if (name && !name.value.trim()) name.value = hit.display;
  }
  let lastTests = [];
  if (table && options) table.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.classList || !input.classList.contains("loinc")) return;
    clearTimeout(timer);
    const query = input.value.trim();
    showDisplay(input, lastTests);
    if (query.length < 2) return;
    timer = setTimeout(async () => {
      const response = await fetch(options.dataset.searchUrl + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const { tests } = await response.json();
      lastTests = tests;
      options.replaceChildren(...tests.map((t) => { const o = document.createElement("option"); o.value = t.loinc; o.label = t.display + (t.units.length ? " (" + t.units.join(", ") + ")" : ""); return o; }));
      showDisplay(input, tests);
    }, 200);
  });

  // Missing results: a new editable row per click; its Remove button takes it out again.
  const addButton = document.getElementById("add-row");
  const template = document.getElementById("new-row-template");
  const added = document.getElementById("added-rows");
  let next = 0;
  if (addButton && template && added) addButton.addEventListener("click", () => {
    const k = next++;
    const html = template.innerHTML.replace(/K1/g, String(k + 1)).replace(/new-K/g, "new-" + k).replace(/data-new="K"/g, 'data-new="' + k + '"');
    const holder = document.createElement("tbody");
    holder.innerHTML = html;
    const row = holder.querySelector("tr");
    row.tabIndex = 0;
    row.setAttribute("aria-label", "Added result " + (k + 1));
    added.append(row);
    row.querySelector(".drop-new").addEventListener("click", () => { row.remove(); addButton.focus(); });
    row.querySelector("input.loinc").focus();
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
