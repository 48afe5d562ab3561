"""Launch configuration for a city's GPU node: vLLM's OpenAI-compatible server per recommended model family."""
