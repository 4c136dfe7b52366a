// A minimal ASP media-server client for Node.js 20+ with the `ws` package (npm install ws).
//
// It does what a media server does for one call: announces its audio, streams the caller's
// audio in real time (20 ms frames), receives the agent's audio and events, obeys call
// actions, and ends the session. Here the caller is a WAV file (a question) and the
// "loudspeaker" is another WAV file (the answer).
//
//   ASP_GATEWAY_TOKEN=... node client.mjs ws://127.0.0.1:8765 pergunta.wav resposta.wav
//
// The question must be mono 16-bit PCM at 8000 or 16000 Hz; the session uses its rate.
// Exit status: 0 the agent answered; 1 anything else (the reason is printed).
// See docs/ASP_INTEGRATION.md.
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import WebSocket from "ws";

const FRAME_MS = 20;
const AGENT_HEADER_SIZE = 15; // type 0x0002, uint32 sequence, uint64 microseconds, flags

const log = (...parts) => console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);

function readWav(path) {
  const buf = readFileSync(path);
  if (buf.toString("ascii", 0, 4) !== "RIFF" || buf.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error(`${path}: not a WAV file`);
  }
  let fmt = null;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString("ascii", at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    if (id === "fmt ") {
      fmt = { channels: buf.readUInt16LE(at + 10), rate: buf.readUInt32LE(at + 12), bits: buf.readUInt16LE(at + 22) };
    } else if (id === "data") {
      if (!fmt || fmt.channels !== 1 || fmt.bits !== 16) throw new Error(`${path}: must be mono 16-bit PCM`);
      return { rate: fmt.rate, pcm: buf.subarray(at + 8, at + 8 + size) };
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no audio data`);
}

function writeWav(path, rate, pcm) {
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write("WAVEfmt ", 8, "ascii");
  h.writeUInt32LE(16, 16); // fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28); // bytes per second
  h.writeUInt16LE(2, 32); // bytes per frame
  h.writeUInt16LE(16, 34); // bits per sample
  h.write("data", 36, "ascii");
  h.writeUInt32LE(pcm.length, 40);
  writeFileSync(path, Buffer.concat([h, pcm]));
}

function callerFrame(seq, pcm) {
  const header = Buffer.alloc(14); // type 0x0001, uint32 sequence, uint64 microseconds
  header.writeUInt16LE(0x01, 0);
  header.writeUInt32LE(seq, 2);
  header.writeBigUInt64LE(BigInt(seq * FRAME_MS * 1000), 6);
  return Buffer.concat([header, pcm]);
}

async function main([url, questionPath, answerPath]) {
  if (!answerPath) {
    console.error("usage: node client.mjs ws://host:8765 question.wav answer.wav");
    return 2;
  }
  const { rate, pcm: question } = readWav(questionPath);
  const frameBytes = (rate * FRAME_MS / 1000) * 2;
  const token = process.env.ASP_GATEWAY_TOKEN || "";
  const ws = new WebSocket(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const sessionId = randomUUID();

  const state = { started: false, asked: false, playing: null, quietSince: Date.now(), answer: [] };
  const outgoing = [];
  let streamer = null;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const sendJson = (msg) => {
    ws.send(JSON.stringify({ ...msg, timestamp: new Date().toISOString() }));
    log("->", msg.type);
  };
  const endSession = () => {
    if (ws.readyState === WebSocket.OPEN) sendJson({ type: "session.end", session_id: sessionId, reason: "call_hangup" });
    setTimeout(() => done(1), 5000).unref(); // no session.ended: give up
  };

  ws.on("unexpected-response", (_req, res) => { console.error(`HTTP ${res.statusCode}: refused`); done(1); });
  ws.on("error", (err) => { console.error(`connection error: ${err.message}`); done(1); });
  ws.on("close", (code, reason) => { log("closed", code, reason.toString()); done(1); });
  ws.on("message", (data, isBinary) => {
    if (isBinary) { // agent audio: 15-byte header, then PCM
      if (data[0] === 0x02 && data[1] === 0x00 && state.asked && state.playing) {
        state.answer.push(data.subarray(AGENT_HEADER_SIZE));
      }
      return;
    }
    const msg = JSON.parse(data.toString());
    log("<-", msg.type, JSON.stringify({ ...msg, type: undefined }).slice(0, 160));
    switch (msg.type) {
      case "protocol.capabilities":
        sendJson({
          type: "session.start",
          session_id: sessionId,
          audio: { sample_rate: rate, encoding: "pcm_s16le", channels: 1, frame_duration_ms: FRAME_MS },
          vad: { silence_threshold_ms: 700 },
          metadata: { caller_number: "1001", language: "pt-BR" },
          version: "1.1.0",
        });
        break;
      case "session.started":
        if (msg.status === "rejected") { console.error("session rejected:", JSON.stringify(msg.errors)); done(1); return; }
        state.started = true;
        state.quietSince = Date.now();
        streamer = startStreaming();
        break;
      case "response.start":
        state.playing = msg.response_id;
        break;
      case "response.end": // interrupted: true = barge-in: drop what is queued for playback
        state.playing = null;
        state.quietSince = Date.now();
        if (state.asked) endSession();
        break;
      case "call.action": // hangup ends the call; transfer has msg.target; dtmf has msg.digits
        if (msg.action === "hangup") endSession();
        break;
      case "protocol.error":
        console.error("error", msg.error.code, msg.error.message);
        break;
      case "session.ended":
        done(state.answer.length ? 0 : 1);
        break;
    }
  });

  // One frame every 20 ms, like a phone line: the question once the greeting is over, else silence.
  function startStreaming() {
    const silence = Buffer.alloc(frameBytes);
    const t0 = Date.now();
    let seq = 0;
    const tick = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!state.asked && state.playing === null && Date.now() - state.quietSince >= 1000) {
        state.asked = true;
        for (let i = 0; i < question.length; i += frameBytes) {
          const frame = Buffer.alloc(frameBytes);
          question.copy(frame, 0, i, Math.min(i + frameBytes, question.length));
          outgoing.push(frame);
        }
        log("asking:", Math.floor(question.length * 1000 / (2 * rate)), "ms of audio");
        setTimeout(() => { console.error("no answer from the agent"); endSession(); }, 30000).unref();
      }
      ws.send(callerFrame(seq, outgoing.shift() || silence));
      seq += 1;
      timer = setTimeout(tick, Math.max(0, t0 + seq * FRAME_MS - Date.now()));
    };
    let timer = setTimeout(tick, 0);
    return { stop: () => clearTimeout(timer) };
  }

  const code = await finished;
  streamer?.stop();
  ws.removeAllListeners("close");
  ws.close();
  const answer = Buffer.concat(state.answer);
  if (code === 0) {
    writeWav(answerPath, rate, answer);
    log("answer:", Math.floor(answer.length * 1000 / (2 * rate)), "ms saved to", answerPath);
  }
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => { console.error(err.message); process.exit(1); },
);
