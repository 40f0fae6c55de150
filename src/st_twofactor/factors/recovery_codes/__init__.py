"""Single-use recovery codes: the way back when the other factors are lost."""
