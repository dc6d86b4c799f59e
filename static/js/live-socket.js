// A websocket that comes back: reconnects with backoff after any close, and
// while it is down calls `poll` every `pollEvery` ms so the page keeps up.

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export function liveSocket(path, { onMessage, onStatus = () => {}, poll = null, pollEvery = 30_000,
  maxDelay = 30_000 } = {}) {
  let socket = null;
  let delay = 1_000;
  let pollTimer = null;
  let retryTimer = null;
  let stopped = false;
  let opened = 0;

  const runPoll = () => Promise.resolve().then(poll).catch(() => {});

  function startPolling() {
    if (!poll || pollTimer !== null) return;
    pollTimer = setInterval(runPoll, pollEvery);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  function retry() {
    if (stopped) return;
    retryTimer = setTimeout(connect, delay);
    delay = Math.min(maxDelay, delay * 2);
  }

  function connect() {
    retryTimer = null;
    if (stopped) return;
    try {
      socket = new WebSocket(socketUrl(path));
    } catch {
      startPolling();
      retry();
      return;
    }
    socket.addEventListener("open", () => {
      delay = 1_000;
      opened += 1;
      stopPolling();
      onStatus({ connected: true, reconnected: opened > 1 });
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message === "object") onMessage(message);
    });
    socket.addEventListener("close", () => {
      socket = null;
      if (stopped) return;
      onStatus({ connected: false });
      startPolling();
      retry();
    });
  }

  connect();
  return {
    close() {
      stopped = true;
      stopPolling();
      if (retryTimer !== null) clearTimeout(retryTimer);
      if (socket) socket.close();
    },
  };
}
