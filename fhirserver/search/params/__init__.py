"""One module per search parameter type, each holding both sides of its index table:
`extract(values)` turns the values a FHIRPath expression selected into index-row columns (write),
and `condition(...)` turns one search value into a `Q` over that table (read)."""
