// JSON-RPC to the node that served this page (same origin): HTTP POST for calls, a WebSocket
// for the request subscription. Reads carry the console session as their `auth`.

let nextId = 1;

export class RpcError extends Error {
  constructor(
    public code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function call(method: string, params: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch("/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new RpcError(body.error.code, body.error.message);
  return body.result;
}

export function subscribe(params: Record<string, unknown>, onEvent: (e: any) => void, onClose: () => void): WebSocket {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`);
  ws.onopen = () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: nextId++, method: "request_subscribe", params }));
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data));
    if (msg.method && msg.params?.result) onEvent(msg.params.result);
  };
  ws.onclose = onClose;
  return ws;
}
