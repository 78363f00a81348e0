"""The CodeAct agent: text format, prompts, the step loop and self-consistent actions."""
