// The Streamlit component protocol (components v1), spoken over postMessage without React.

export type RenderHandler = (args: Record<string, unknown>) => void;

function send(type: string, data: Record<string, unknown> = {}): void {
  window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");
}

export function onRender(handler: RenderHandler): void {
  window.addEventListener("message", (event: MessageEvent) => {
    const msg = event.data;
    if (msg && msg.type === "streamlit:render") handler((msg.args ?? {}) as Record<string, unknown>);
  });
  send("streamlit:componentReady", { apiVersion: 1 });
}

export function setFrameHeight(height: number): void {
  send("streamlit:setFrameHeight", { height });
}

export function setValue(value: unknown): void {
  send("streamlit:setComponentValue", { value, dataType: "json" });
}
