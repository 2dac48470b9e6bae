"""`python manage.py ocr_eval`: CER and exact table cells per engine and degradation (see evaluation.ocr)."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand

from evaluation import ocr as evaluate
from evaluation.corpus import LAYOUTS
from evaluation.corpus.degrade import DEGRADATIONS


class Command(BaseCommand):
    help = "Evaluate the OCR engines over corpus layouts x degradations (Tesseract as baseline)."

    def add_arguments(self, parser):
        parser.add_argument("--engines", default=",".join(evaluate.ENGINES))
        parser.add_argument("--layouts", default=",".join(evaluate.DEFAULT_LAYOUTS), help="comma-separated, or 'all'")
        parser.add_argument("--degradations", default=",".join([*DEGRADATIONS, evaluate.TEXT_PDF]))
        parser.add_argument("--seeds", default="1")
        parser.add_argument("--quick", action="store_true", help="three layouts: a smoke run")
        parser.add_argument("--json", default="var/ocr_eval.json", help="where to write every page's scores")
        parser.add_argument("--merge", help="comma-separated --json files of earlier runs: print their joint table")

    def handle(self, *args, **options):
        if options["merge"]:
            scores = [
                s
                for path in options["merge"].split(",")
                for s in evaluate.scores_from_json(json.loads(Path(path).read_text()))
            ]
            # every run scores the text layer once; keep one score per page of it
            text_layer = {(s.layout, s.seed, s.page): s for s in scores if s.engine == "pdfplumber"}
            scores = [s for s in scores if s.engine != "pdfplumber"] + list(text_layer.values())
            self.stdout.write(evaluate.markdown(evaluate.summary(scores)))
            return
        layouts = list(LAYOUTS) if options["layouts"] == "all" else options["layouts"].split(",")
        if options["quick"]:
            layouts = layouts[:3]
        cases = evaluate.corpus_cases(
            layouts, [int(s) for s in options["seeds"].split(",")], options["degradations"].split(",")
        )

        def progress(s):
            self.stderr.write(f"{s.layout} p{s.page} {s.degradation:13} {s.engine:14} cer {s.cer:.3f} "
                              f"cells {s.cells_exact}/{s.cells_total} {s.seconds:.2f}s")

        scores = evaluate.evaluate(options["engines"].split(","), cases, progress=progress)
        out = Path(options["json"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(evaluate.as_json(scores), indent=1))
        self.stdout.write(evaluate.markdown(evaluate.summary(scores)))
