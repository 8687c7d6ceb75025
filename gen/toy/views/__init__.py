"""How the playground shows its models: `frames` (numbers for the browser to draw), `drawing` (the drawing canvas)."""
