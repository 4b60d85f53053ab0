import { createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP listener on 127.0.0.1 (and ::1 on the same port where the host has IPv6) that records
 * every connection made to it and answers nothing: proof that an outbound fetch never connected.
 */
export async function connectionRecorder(onConnection: (socket: Socket) => void = (socket) => socket.destroy()) {
  let connections = 0;
  const handle = (socket: Socket) => {
    connections++;
    socket.on("error", () => {});
    socket.resume(); // reads (and drops) what arrives, so a close by the peer is seen
    onConnection(socket);
  };
  const listen = (server: Server, host: string, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
  const v4 = createServer(handle);
  await listen(v4, "127.0.0.1", 0);
  const port = (v4.address() as AddressInfo).port;
  const v6 = createServer(handle);
  const servers = [v4];
  try {
    await listen(v6, "::1", port);
    servers.push(v6);
  } catch {
    // No IPv6 loopback here: 127.0.0.1 alone.
  }
  return {
    port,
    get connections() {
      return connections;
    },
    close: () => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))),
  };
}
