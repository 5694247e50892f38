"""Recording: pre-roll stream buffers, the clip writer, the clip library and retention."""
