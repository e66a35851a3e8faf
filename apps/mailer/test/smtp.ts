import { type AddressInfo, createServer } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";

/**
 * A real SMTP server on a free port for the tests, recording every message it accepts (raw and
 * parsed by mailparser) and answering as `fault` says: a reply code at RCPT TO or after DATA, or
 * the connection dropped after the whole message was read. It can be stopped and started again
 * on the same port (the server down for a while).
 */
export interface Received {
  to: string[];
  raw: Buffer;
  parsed: ParsedMail;
  at: number;
}

export type Fault =
  | { at: "rcpt"; code: number; message: string }
  | { at: "data"; code: number; message: string }
  | { at: "data"; drop: true }
  | undefined;

export interface TestSmtp {
  port: number;
  url: string;
  received: Received[];
  /** Called for every RCPT TO and every DATA end: what to do with it (undefined: accept). */
  fault: (stage: "rcpt" | "data", to: string, index: number) => Fault;
  /** Milliseconds the server waits before answering a message's data. */
  dataDelayMs: number;
  /** Messages whose DATA reached the end, accepted or not. */
  dataSeen: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const smtpError = (code: number, message: string) =>
  Object.assign(new Error(message), { responseCode: code });

export async function startTestSmtp(): Promise<TestSmtp> {
  const port = await freePort();
  let server: SMTPServer | undefined;
  const smtp: TestSmtp = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received: [],
    fault: () => undefined,
    dataDelayMs: 0,
    dataSeen: 0,
    async start() {
      const instance: SMTPServer = new SMTPServer({
        authOptional: true,
        disabledCommands: ["STARTTLS", "AUTH"],
        logger: false,
        size: 50 * 1024 * 1024,
        onRcptTo(address, _session, callback) {
          const fault = smtp.fault("rcpt", address.address, smtp.dataSeen);
          if (fault && fault.at === "rcpt") return callback(smtpError(fault.code, fault.message));
          callback();
        },
        onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", async () => {
            const index = smtp.dataSeen++;
            const raw = Buffer.concat(chunks);
            const to = session.envelope.rcptTo.map((r) => r.address);
            const fault = smtp.fault("data", to[0] ?? "", index);
            if (smtp.dataDelayMs) await new Promise((r) => setTimeout(r, smtp.dataDelayMs));
            if (fault && "drop" in fault) {
              // the whole message was read, then the connection dies before any reply: the client
              // cannot know whether it was accepted. Recorded as received: a real server may have
              // queued it.
              smtp.received.push({ to, raw, parsed: await simpleParser(raw), at: Date.now() });
              for (const connection of (
                instance as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }
              ).connections) {
                if (connection.id === session.id) connection._socket.destroy();
              }
              return;
            }
            if (fault && fault.at === "data") return callback(smtpError(fault.code, fault.message));
            smtp.received.push({ to, raw, parsed: await simpleParser(raw), at: Date.now() });
            callback(null, "2.0.0 Ok: queued");
          });
        },
      });
      instance.on("error", () => {});
      await new Promise<void>((resolve) => instance.listen(port, "127.0.0.1", resolve));
      server = instance;
    },
    async stop() {
      const instance = server;
      server = undefined;
      if (!instance) return;
      for (const connection of (instance as unknown as { connections: Set<{ _socket: { destroy(): void } }> })
        .connections) {
        connection._socket.destroy();
      }
      await new Promise<void>((resolve) => instance.close(() => resolve()));
    },
  };
  await smtp.start();
  return smtp;
}
