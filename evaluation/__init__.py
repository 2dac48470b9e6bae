"""The evaluation: a generated corpus of lab reports with ground truth, the scorers, `make eval`
and `make eval-ocr`. Nothing in the runtime path imports it."""
