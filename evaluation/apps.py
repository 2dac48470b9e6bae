from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """Only for the `lab_eval` and `ocr_eval` management commands."""

    name = "evaluation"
