#!/usr/bin/env bash
# The pipeline workers (stt, llm, tts) as background processes, for `make up`.
#   workers.sh start|stop|status
#   workers.sh env     prints the settings this script chooses (KEY=value), starts nothing
# Settings come from the environment and compose/.env (see each service's .env.example);
# WORKERS_REPLICAS (default 1) starts that many replicas of each.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
[ -f compose/.env ] && set -a && source compose/.env && set +a
REPLICAS=${WORKERS_REPLICAS:-1}

# CPU budget: explicit thread counts for every engine (Whisper, llama.cpp, ONNX Runtime),
# unless compose/.env or the environment sets them. The stages mostly take turns, so
# Whisper and ONNX Runtime may use all the host's cores (PABX_CPU_THREADS, at most 4 by
# default); llama.cpp runs beside the TTS and its threads spin while waiting for each
# other, so it gets half (1 on a 2-core host). The LLM also holds its generation while the
# TTS synthesizes a reply's first clause; post-call summaries wait for live replies, and
# run niced. See docs/AGENT.md, "Orçamento de CPU".
CORES=$(nproc 2>/dev/null || echo 2)
PABX_CPU_THREADS=${PABX_CPU_THREADS:-$(( CORES < 4 ? CORES : 4 ))}
export STT_CPU_THREADS=${STT_CPU_THREADS:-$PABX_CPU_THREADS}
export TTS_THREADS=${TTS_THREADS:-$PABX_CPU_THREADS}
export LLM_N_THREADS=${LLM_N_THREADS:-$(( PABX_CPU_THREADS > 1 ? PABX_CPU_THREADS / 2 : 1 ))}
export LLM_N_THREADS_BATCH=${LLM_N_THREADS_BATCH:-$LLM_N_THREADS}
# The agent's facts: the shipped example compose/agent/fatos.toml, the same file docker
# compose mounts (LLM_FACTS_PATH=/etc/pabx/agent/fatos.toml); edit it and the llm-worker
# reloads it. The date in the agent's prompt is in the PABX's time zone, as in compose.
export LLM_FACTS_PATH=${LLM_FACTS_PATH:-$REPO_ROOT/compose/agent/fatos.toml}
export LLM_TIMEZONE=${LLM_TIMEZONE:-${PABX_TZ:-America/Sao_Paulo}}
CHOSEN=(STT_CPU_THREADS TTS_THREADS LLM_N_THREADS LLM_N_THREADS_BATCH LLM_FACTS_PATH LLM_TIMEZONE)
declare -A PORT=([stt]=9101 [llm]=9102 [tts]=9103)

health() { # port
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /ready HTTP/1.0\r\n\r\n' >&3
  local line=""; read -r -t 2 line <&3 || true; exec 3>&-
  [[ "$line" == *" 200 "* ]]
}

case "${1:-status}" in
  start)
    log "CPU: $CORES núcleos; threads stt=$STT_CPU_THREADS llm=$LLM_N_THREADS/$LLM_N_THREADS_BATCH tts=$TTS_THREADS"
    log "fatos do agente: $LLM_FACTS_PATH (fuso $LLM_TIMEZONE)"
    for kind in stt llm tts; do
      for ((i = 0; i < REPLICAS; i++)); do
        pidfile="$RUN_DIR/$kind-worker-$i.pid"
        pid_alive "$pidfile" && continue
        port=$(( ${PORT[$kind]} + 10 * i ))
        log "iniciando $kind-worker $i (métricas :$port)"
        # each kind is its own Redis ACL user (scripts/redis_acl.py)
        WORKER_NAME="$(hostname)-$kind-$i" METRICS_PORT=$port REDIS_URL=$(redis_url "$kind-worker") \
          setsid "$VENV/bin/python" -m "${kind}_worker" >>"$RUN_DIR/$kind-worker-$i.log" 2>&1 &
        echo $! >"$pidfile"
      done
    done
    # Post-call jobs (summary, webhook, cleanup) on arq: one is enough, it is not real time.
    if ! pid_alive "$RUN_DIR/postcall-worker.pid"; then
      log "iniciando postcall-worker (arq)"
      # nice: on a small host the summaries must not take CPU from live calls
      REDIS_URL=$(redis_url postcall) setsid nice -n 15 "$VENV/bin/python" -m llm_worker.postcall >>"$RUN_DIR/postcall-worker.log" 2>&1 &
      echo $! >"$RUN_DIR/postcall-worker.pid"
    fi
    for kind in stt llm tts; do
      for ((i = 0; i < REPLICAS; i++)); do
        port=$(( ${PORT[$kind]} + 10 * i ))
        wait_for "$kind-worker $i" 180 health "$port" \
          || die "$kind-worker $i não ficou saudável; veja $RUN_DIR/$kind-worker-$i.log"
      done
    done;;
  stop)
    for pidfile in "$RUN_DIR"/*-worker-*.pid "$RUN_DIR"/postcall-worker.pid; do
      [ -e "$pidfile" ] || continue
      stop_pidfile "$(basename "$pidfile" .pid)" "$pidfile"
    done;;
  status)
    rc=0
    for kind in stt llm tts; do
      for ((i = 0; i < REPLICAS; i++)); do
        port=$(( ${PORT[$kind]} + 10 * i ))
        if health "$port"; then
          echo "  $kind-worker $i  http://127.0.0.1:$port/metrics  (log: .run/$kind-worker-$i.log)"
        else
          echo "  $kind-worker $i  parado"; rc=1
        fi
      done
    done
    if pid_alive "$RUN_DIR/postcall-worker.pid"; then
      echo "  postcall-worker  arq (log: .run/postcall-worker.log)"
    else
      echo "  postcall-worker  parado"; rc=1
    fi
    exit $rc;;
  env)
    for name in "${CHOSEN[@]}"; do printf '%s=%s\n' "$name" "${!name}"; done;;
  *) die "uso: $0 start|stop|status|env";;
esac
