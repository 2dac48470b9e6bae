"""`manage.py lab_eval`: reading + understanding accuracy.

By default on the layout grammar (evaluation/corpus/grammar.py), per family and input kind: rows
exact, confident-wrong rows, header accuracy, refusals of non-lab inputs, upright pages turned,
seconds per page. `--named` (or `--layouts` / `--degradations`) scores the named layouts instead.
"""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from evaluation import lab as ev

QUICK_DEGRADATIONS = (ev.TEXT_PDF, "clean-300dpi", "phone-photo")


class Command(BaseCommand):
    help = "Score reading + understanding of lab reports on the generated corpus (see docs/digitize-accuracy.md)."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true",
                            help="one seed (grammar: every family and kind; named: text PDF, clean scan, photo)")
        parser.add_argument("--engine", default=None, help="OCR engine name passed to the reader")
        parser.add_argument("--families", nargs="*", default=None, help="grammar families (default: all)")
        parser.add_argument("--kinds", nargs="*", default=None,
                            help=f"grammar input kinds: {', '.join(ev.GRAMMAR_KINDS)} (default: all)")
        parser.add_argument("--named", action="store_true", help="score the named layouts, not the grammar")
        parser.add_argument("--layouts", nargs="*", default=None, help="named layouts (implies --named)")
        parser.add_argument("--degradations", nargs="*", default=None,
                            help=f"{ev.TEXT_PDF} and/or names from evaluation.corpus.degrade (implies --named)")
        parser.add_argument("--seeds", type=int, default=2, help="reports per layout or family")
        parser.add_argument("--first-seed", type=int, default=1, help="the first seed (held-out runs use others)")
        parser.add_argument("--markdown", default=None, help="write the table (and misses) to this file")
        parser.add_argument(
            "--cache",
            default=None,
            help="folder to keep readings in (e.g. var/eval-cache): re-scoring skips OCR of identical files",
        )
        parser.add_argument("--verbose-misses", action="store_true", help="print every wrong field")

    def handle(self, *args, quick=False, engine=None, layouts=None, degradations=None, seeds=2, markdown=None,
               verbose_misses=False, cache=None, named=False, families=None, kinds=None, first_seed=1, **options):
        named = named or layouts is not None or degradations is not None
        seed_list = range(first_seed, first_seed + (1 if quick else seeds))

        def progress(case: ev.CaseScore) -> None:
            if case.lab:
                line = (f"{case.layout:22} {case.degradation:14} seed {case.seed}: {case.exact}/{case.rows} exact, "
                        f"confident-wrong {case.confident_wrong}, to review {case.to_review}, "
                        f"header {case.header_right}/{case.header_fields}, invented {case.invented}")
            else:
                line = (f"{case.layout:22} {case.degradation:14} seed {case.seed}: "
                        f"{'refused' if case.refused else 'NOT REFUSED'}, confident-wrong {case.confident_wrong}")
            turned = f", turned {case.turned}" if case.turned else ""
            line += f"{turned}, {case.seconds / max(case.pages, 1):.2f}s/page"
            self.stdout.write(line + (f"  ERROR {case.error}" if case.error else ""))
            if verbose_misses:
                for miss in case.misses:
                    self.stdout.write(f"    {miss}")

        if named:
            if degradations is None:
                from evaluation.corpus.degrade import DEGRADATIONS

                degradations = list(QUICK_DEGRADATIONS) if quick else [ev.TEXT_PDF, *DEGRADATIONS]
            scores = ev.evaluate(layouts=layouts, degradations=degradations, seeds=seed_list, engine=engine,
                                 progress=progress, cache=cache)
            table = ev.markdown_table(scores)
            legend = "rows exact / header accuracy / invented rows / seconds per page"
        else:
            scores = ev.evaluate_grammar(families=families, kinds=kinds or tuple(ev.GRAMMAR_KINDS), seeds=seed_list,
                                         engine=engine, progress=progress, cache=cache)
            table = ev.grammar_table(scores)
            legend = ("rows exact / confident-wrong rows (cw) / header accuracy / seconds per page; "
                      "non-lab inputs: refused (no result rows read) of all")
        self.stdout.write(f"\n{legend}\n{table}")
        if markdown:
            misses = "\n".join(f"- {s.layout} / {s.degradation} / seed {s.seed}: {m}"
                               for s in scores for m in s.misses + ([s.error] if s.error else []))
            Path(markdown).parent.mkdir(parents=True, exist_ok=True)
            Path(markdown).write_text(
                f"{legend}\n\n{table}\n\n<details><summary>Misses</summary>\n\n{misses or '- none'}\n\n</details>\n"
            )
