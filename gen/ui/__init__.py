"""The Gradio UI: the only part of genlab that imports gradio. One module per tab."""
