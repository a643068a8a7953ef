// A beats-ack.v1 server (PROTOCOL.md) with the ws package: appends every
// event it receives to a file, fsyncs it, and only then acknowledges.
// Usage: node server.js [HOST:PORT] [FILE]   (port 0 picks a free port)
'use strict';
const fs = require('fs');
const { dirname, resolve } = require('path');
const { WebSocketServer } = require('ws');

const PROTOCOL = 'beats-ack.v1';
const listen = process.argv[2] || '127.0.0.1:8080';
const file = process.argv[3] || 'events.log';
const out = openOutput(file);

// frame: batch ends each event with a newline; frame: event sends one.
function events(msg) {
  if (msg[msg.length - 1] !== 0x0a) return [msg];
  const list = [];
  for (let start = 0, end; (end = msg.indexOf(0x0a, start)) >= 0; start = end + 1) list.push(msg.subarray(start, end));
  return list;
}

// Opens name for appending, less any incomplete last line a crash left: it
// was never acknowledged, so the client sends it again.
function openOutput(name) {
  const fd = fs.openSync(name, 'a+');
  const buf = Buffer.alloc(65536);
  let end = fs.fstatSync(fd).size;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const newline = buf.subarray(0, fs.readSync(fd, buf, 0, end - start, start)).lastIndexOf(0x0a);
    end = newline >= 0 ? start + newline + 1 : start;
    if (newline >= 0) break;
  }
  fs.ftruncateSync(fd, end);
  const folder = fs.openSync(dirname(resolve(name)), 'r');
  fs.fsyncSync(folder); // so that a new file's name survives a power cut too
  fs.closeSync(folder);
  return fd;
}

const wss = new WebSocketServer({
  host: listen.slice(0, listen.lastIndexOf(':')),
  port: Number(listen.slice(listen.lastIndexOf(':') + 1)),
  maxPayload: 64 << 20, // a frame: batch message holds up to batch_size events
  handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
});

wss.on('connection', (ws) => { // ws answers pings and close frames itself
  let received = 0; // data messages taken on this connection: each counts from 0
  let syncing = false;
  // One ack covers all that arrived during the fsync.
  const acknowledge = () => {
    if (syncing || ws.protocol !== PROTOCOL) return;
    syncing = true;
    const n = received;
    fs.fsync(out, (err) => {
      syncing = false;
      if (err) return ws.close(1011, `cannot store: ${err.code}`); // the client sends it again
      ws.send(`{"ack":${n}}`); // stored durably: now it is safe to ack
      if (received > n) acknowledge();
    });
  };
  ws.on('message', (msg) => {
    for (const event of events(msg)) fs.writeSync(out, Buffer.concat([event, Buffer.from('\n')])); // the real work goes here: store the event
    received++;
    acknowledge();
  });
  ws.on('error', (err) => console.error(`connection: ${err.message}`)); // what was not acknowledged, the client sends again
});

wss.on('listening', () => console.log(`listening on ws://${wss.address().address}:${wss.address().port}/, appending to ${file}`));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    wss.clients.forEach((ws) => ws.close(1001, 'going away'));
    wss.close(() => process.exit(0));
  });
}
