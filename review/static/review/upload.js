// Upload view: drag-and-drop or the file picker, several files at once; then a progress bar per file.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const input = document.getElementById("files");
  const zone = document.getElementById("dropzone");
  const chosen = document.getElementById("chosen");
  const progress = document.getElementById("progress");
  const jobs = document.getElementById("jobs");

  function showChosen() {
    chosen.replaceChildren(...Array.from(input.files).map((f) => { const li = document.createElement("li"); li.textContent = f.name + " (" + Math.ceil(f.size / 1024) + " KB)"; return li; }));
  }
  input.addEventListener("change", showChosen);
  showChosen(); // files picked before this script ran (a slow load, or a form the browser restored)
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    const transfer = new DataTransfer();
    Array.from(input.files).concat(Array.from(e.dataTransfer.files)).forEach((f) => transfer.items.add(f));
    input.files = transfer.files;
    showChosen();
  });

  function jobItem(doc) {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = doc.filename;
    li.append(name);
    if (doc.error) { const p = document.createElement("p"); p.className = "message error"; p.textContent = doc.error; li.append(p); return li; }
    const bar = document.createElement("progress"); bar.max = 100; bar.value = doc.progress; bar.setAttribute("aria-label", "Reading " + doc.filename);
    const text = document.createElement("p"); text.setAttribute("aria-live", "polite");
    const link = document.createElement("a"); link.href = doc.review_url; link.textContent = "Review"; link.hidden = true;
    li.append(bar, text, link);
    li.update = (job) => {
      bar.value = job.progress;
      text.textContent = job.status === "failed" ? "Reading failed: " + job.error : job.stage + " (" + job.progress + "%)";
      link.hidden = !job.finished;
    };
    li.update(doc);
    return li;
  }

  async function poll(doc, item, single) {
    const response = await fetch(doc.status_url, { headers: { Accept: "application/json" } });
    const job = response.ok ? await response.json() : doc;
    item.update(job);
    if (job.finished) { if (single && job.status === "done") window.location.assign(doc.review_url); return; }
    setTimeout(() => poll(doc, item, single), 1000);
  }

  form.addEventListener("submit", async (event) => {
    if (!input.files.length) return; // the server says what is missing
    event.preventDefault();
    const button = document.getElementById("upload");
    button.disabled = true;
    const response = await fetch(form.action || window.location.href, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } });
    button.disabled = false;
    const answer = await response.json();
    progress.hidden = false;
    if (!response.ok) { jobs.replaceChildren(jobItem({ filename: "Upload", error: answer.error })); return; }
    const items = answer.documents.map((doc) => [doc, jobItem(doc)]);
    jobs.replaceChildren(...items.map(([, item]) => item));
    const readable = items.filter(([doc]) => !doc.error);
    readable.forEach(([doc, item]) => poll(doc, item, items.length === 1));
    form.reset(); chosen.replaceChildren();
  });
})();
