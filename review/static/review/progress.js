// Progress view: poll the job until it is read, then show the review.
(function () {
  "use strict";
  const card = document.getElementById("job-progress-card");
  const bar = document.getElementById("job-progress");
  const stage = document.getElementById("job-stage");
  async function poll() {
    try {
      const response = await fetch(card.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        bar.value = job.progress;
        stage.textContent = job.stage + " (" + job.progress + "%)";
        if (job.finished) { window.location.assign(card.dataset.reviewUrl); return; }
      }
    } catch (e) { /* a dropped poll is retried */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
