"""genlab: the models and the math behind the generative-models lab (no Gradio here)."""
