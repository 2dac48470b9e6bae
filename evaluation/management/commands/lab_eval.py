"""`manage.py lab_eval`: rows exact, header accuracy, invented rows and seconds per page, per layout x degradation."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from evaluation import lab as ev

QUICK_DEGRADATIONS = (ev.TEXT_PDF, "clean-300dpi", "phone-photo")


class Command(BaseCommand):
    help = "Score reading + understanding of lab reports on the generated corpus (see docs/digitize-accuracy.md)."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="one seed, text PDF + clean scan + phone photo")
        parser.add_argument("--engine", default=None, help="OCR engine name passed to the reader")
        parser.add_argument("--layouts", nargs="*", default=None, help="layout names (default: all)")
        parser.add_argument("--degradations", nargs="*", default=None,
                            help=f"{ev.TEXT_PDF} and/or names from evaluation.corpus.degrade (default: all)")
        parser.add_argument("--seeds", type=int, default=2, help="reports per layout")
        parser.add_argument("--markdown", default=None, help="write the table (and misses) to this file")
        parser.add_argument(
            "--cache",
            default=None,
            help="folder to keep readings in (e.g. var/eval-cache): re-scoring skips OCR of identical files",
        )
        parser.add_argument("--verbose-misses", action="store_true", help="print every wrong field")

    def handle(self, *args, quick=False, engine=None, layouts=None, degradations=None, seeds=2, markdown=None,
               verbose_misses=False, cache=None, **options):
        if degradations is None:
            from evaluation.corpus.degrade import DEGRADATIONS

            degradations = list(QUICK_DEGRADATIONS) if quick else [ev.TEXT_PDF, *DEGRADATIONS]
        seed_list = range(1, 2 if quick else seeds + 1)

        def progress(case: ev.CaseScore) -> None:
            line = (f"{case.layout:22} {case.degradation:13} seed {case.seed}: {case.exact}/{case.rows} exact, "
                    f"header {case.header_right}/{case.header_fields}, invented {case.invented}, "
                    f"{case.seconds / max(case.pages, 1):.2f}s/page")
            self.stdout.write(line + (f"  ERROR {case.error}" if case.error else ""))
            if verbose_misses:
                for miss in case.misses:
                    self.stdout.write(f"    {miss}")

        scores = ev.evaluate(layouts=layouts, degradations=degradations, seeds=seed_list, engine=engine,
                             progress=progress, cache=cache)
        table = ev.markdown_table(scores)
        self.stdout.write("\nrows exact / header accuracy / invented rows / seconds per page\n" + table)
        if markdown:
            misses = "\n".join(f"- {s.layout} / {s.degradation} / seed {s.seed}: {m}"
                               for s in scores for m in s.misses + ([s.error] if s.error else []))
            Path(markdown).write_text(
                f"{table}\n\n<details><summary>Misses</summary>\n\n{misses or '- none'}\n\n</details>\n"
            )
