"""Small filters of the review templates: region boxes as SVG numbers, low-confidence rows."""
from django import template

from review.selectors import is_low_confidence, is_low_confidence_cell

register = template.Library()
PAD = 4  # px of page space around a region, so the box does not cover the text's edges


@register.filter
def box(value, pad: int = PAD) -> str:
    return f"{float(value) - pad:.1f}"


@register.filter
def box_width(region_box) -> str:
    return f"{float(region_box[2]) - float(region_box[0]) + 2 * PAD:.1f}"


@register.filter
def box_height(region_box) -> str:
    return f"{float(region_box[3]) - float(region_box[1]) + 2 * PAD:.1f}"


@register.filter
def low_confidence(row) -> bool:
    return is_low_confidence(row)


@register.filter
def low_cell(row, cell: str) -> bool:
    return is_low_confidence_cell(row, cell)


@register.filter
def field_size(text, minimum: int = 6) -> int:
    """A text field's `size`: its whole content shows (plus a little room to type), never less than `minimum`."""
    return max(int(minimum), len(str(text or "")) + 2)
