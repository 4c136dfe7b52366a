"""LLM stage of the PABX voice agent.

Below the Redis layer: streaming providers (Claude, OpenAI-compatible servers, local
llama.cpp), a Portuguese-aware sentence splitter, conversation history shaping, the
call-action tools and the persona. The Redis Streams worker loop wraps
:func:`llm_worker.reply.reply`.
"""
