"""Loss terms: partial CE and DPM entropy (both stages), ToCo's terms, the dense energy."""
