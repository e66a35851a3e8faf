import { connect as netConnect, type Socket } from "node:net";
import { hostname } from "node:os";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";

/*
 * One SMTP connection (RFC 5321) for composed messages: greeting, EHLO (HELO when refused),
 * STARTTLS when the server offers it, AUTH PLAIN or LOGIN, then message after message. With
 * PIPELINING (RFC 2920) a message's MAIL FROM, RCPT TO and DATA go in one write, and the message
 * and its terminating dot in the next: two round trips a message instead of four. The message is
 * dot-stuffed with a native search over its bytes (a line starting with a dot gets another), so
 * its cost does not grow with per-byte work in JavaScript.
 *
 * Errors carry what the outbox decides on: `responseCode` and `response` (the server's reply),
 * `command` (what it answered), `code` (EENVELOPE: MAIL FROM, RCPT TO or DATA refused; EMESSAGE:
 * the message refused after its data; ECONNECTION, ESOCKET, ETIMEDOUT: the connection failed, or
 * EAUTH, ETLS when it could not be set up), and on a send `handedOver`: whether the whole message
 * had been written to the connection.
 */

export interface SmtpClientOptions {
  host: string;
  port: number;
  /** TLS from the first byte (smtps://, port 465). */
  secure: boolean;
  tls?: ConnectionOptions | undefined;
  /** Never upgrade with STARTTLS. */
  ignoreTLS?: boolean | undefined;
  /** Fail unless the connection is encrypted (STARTTLS offered and done, or secure). */
  requireTLS?: boolean | undefined;
  auth?: { user: string; pass: string } | undefined;
  /** The name this client gives in EHLO; default the machine's name when it is a FQDN, else [127.0.0.1]. */
  name?: string | undefined;
  /** To connect, to be greeted, and for each reply. */
  timeoutMs: number;
}

export interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  /** On a send: the whole message had been written to the connection. */
  handedOver?: boolean;
}

interface Reply {
  code: number;
  text: string;
}

const CRLF = Buffer.from("\r\n");
const DOT_LINE = Buffer.from("\r\n.");
const END = Buffer.from(".\r\n");

const smtpError = (message: string, fields: Omit<SmtpError, "name" | "message"> = {}): SmtpError =>
  Object.assign(new Error(message), fields);

const replyError = (reply: Reply, command: string, code: string): SmtpError =>
  smtpError(`${command} refused: ${reply.text}`, {
    code,
    responseCode: reply.code,
    response: reply.text,
    command,
  });

function defaultName(): string {
  let name = "";
  try {
    name = hostname();
  } catch {
    name = "";
  }
  if (!name.includes(".")) return "[127.0.0.1]";
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) ? `[${name}]` : name;
}

/** The message with every line that starts with a dot given a second one; ends with CRLF. */
export function dotStuff(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  if (message[0] === 0x2e) {
    parts.push(Buffer.from("."));
  }
  for (let at = message.indexOf(DOT_LINE); at >= 0; at = message.indexOf(DOT_LINE, at + 3)) {
    parts.push(message.subarray(from, at + 3), Buffer.from("."));
    from = at + 3;
  }
  if (parts.length === 0 && message.subarray(-2).equals(CRLF)) return message;
  parts.push(message.subarray(from));
  if (!message.subarray(-2).equals(CRLF)) parts.push(CRLF);
  return Buffer.concat(parts);
}

export class SmtpClient {
  private socket: Socket | TLSSocket;
  private buffered = "";
  private lines: string[] = [];
  /** Replies read before anyone asked for them. */
  private ready: Reply[] = [];
  private readonly waiting: { resolve(reply: Reply): void; reject(error: SmtpError): void }[] = [];
  private failure: SmtpError | undefined;
  private closeListeners: (() => void)[] = [];
  private extensions = new Set<string>();
  private authMechanisms: string[] = [];
  private encrypted: boolean;

  private constructor(
    socket: Socket | TLSSocket,
    private readonly options: SmtpClientOptions,
  ) {
    this.socket = socket;
    this.encrypted = options.secure;
    this.attach(socket);
  }

  /** Connects, greets, upgrades and logs in; rejects with an SmtpError (the socket closed). */
  static async connect(options: SmtpClientOptions): Promise<SmtpClient> {
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          smtpError(`no connection to ${options.host}:${options.port} within ${options.timeoutMs} ms`, {
            code: "ETIMEDOUT",
          }),
        );
      }, options.timeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        reject(smtpError(error.message, { code: "ECONNECTION" }));
      };
      const socket = options.secure
        ? tlsConnect({
            host: options.host,
            port: options.port,
            servername: servername(options.host),
            ...options.tls,
          })
        : netConnect({ host: options.host, port: options.port });
      socket.once("error", onError);
      socket.once(options.secure ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(socket);
      });
    });
    const client = new SmtpClient(socket, options);
    try {
      await client.handshake();
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** False once the connection failed or was closed. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Called once when the connection ends, whoever ends it. */
  onClose(listener: () => void): void {
    if (!this.alive) listener();
    else this.closeListeners.push(listener);
  }

  /**
   * Sends a composed message (CRLF line endings) to `to`. Resolves with the server's reply to its
   * data; rejects with an SmtpError whose `handedOver` says whether the whole message was written.
   */
  async send(envelope: { from: string; to: string }, message: Buffer): Promise<string> {
    let handedOver = false;
    try {
      const utf8 = /[\u0080-\uffff]/.test(envelope.from + envelope.to) && this.extensions.has("SMTPUTF8");
      const mail = `MAIL FROM:<${envelope.from}>${utf8 ? " SMTPUTF8" : ""}`;
      const rcpt = `RCPT TO:<${envelope.to}>`;
      let replies: Reply[];
      if (this.extensions.has("PIPELINING")) {
        this.write(`${mail}\r\n${rcpt}\r\nDATA\r\n`);
        replies = [await this.reply(), await this.reply(), await this.reply()];
      } else {
        replies = [];
        for (const command of [mail, rcpt, "DATA"]) {
          this.write(`${command}\r\n`);
          const reply = await this.reply();
          replies.push(reply);
          if (reply.code >= 400) break;
        }
      }
      const [mailReply, rcptReply, dataReply] = replies;
      const refused =
        mailReply && mailReply.code !== 250
          ? replyError(mailReply, "MAIL FROM", "EENVELOPE")
          : rcptReply && rcptReply.code !== 250 && rcptReply.code !== 251
            ? replyError(rcptReply, "RCPT TO", "EENVELOPE")
            : dataReply && dataReply.code !== 354
              ? replyError(dataReply, "DATA", "EENVELOPE")
              : undefined;
      if (refused) {
        // a server that refused the envelope and still waits for data is in no state to go on
        if (dataReply?.code === 354)
          this.fail(smtpError("the server accepted DATA after refusing the envelope", { code: "EPROTOCOL" }));
        throw refused;
      }
      this.socket.cork();
      this.write(dotStuff(message));
      this.write(END);
      this.socket.uncork();
      handedOver = true;
      const final = await this.reply();
      if (final.code !== 250) throw replyError(final, "DATA", "EMESSAGE");
      return final.text;
    } catch (error) {
      (error as SmtpError).handedOver = handedOver;
      throw error;
    }
  }

  /** RSET: a new transaction on the same connection after a refused one. */
  async reset(): Promise<void> {
    this.write("RSET\r\n");
    const reply = await this.reply();
    if (reply.code !== 250) throw replyError(reply, "RSET", "EPROTOCOL");
  }

  /** QUIT, then the connection closes (the server closes it, or it is cut a few seconds later). */
  quit(): void {
    if (!this.alive) return;
    const socket = this.socket;
    socket.write("QUIT\r\n");
    socket.end();
    this.fail(smtpError("the connection was closed", { code: "ECONNECTION" }), false);
    setTimeout(() => socket.destroy(), 5_000).unref();
  }

  close(): void {
    this.socket.destroy();
    this.fail(smtpError("the connection was closed", { code: "ECONNECTION" }));
  }

  private async handshake(): Promise<void> {
    const greeting = await this.reply();
    if (greeting.code !== 220) throw replyError(greeting, "greeting", "EPROTOCOL");
    await this.hello();
    if (!this.encrypted && !this.options.ignoreTLS && this.extensions.has("STARTTLS")) {
      this.write("STARTTLS\r\n");
      const reply = await this.reply();
      if (reply.code !== 220) throw replyError(reply, "STARTTLS", "ETLS");
      await this.upgrade();
      await this.hello();
    }
    if (this.options.requireTLS && !this.encrypted) {
      throw smtpError("the SMTP server does not offer STARTTLS and requireTLS is set", { code: "ETLS" });
    }
    if (this.options.auth && this.authMechanisms.length > 0) await this.login(this.options.auth);
  }

  private async hello(): Promise<void> {
    const name = (this.options.name ?? defaultName()).replace(/[\r\n]+/g, "");
    this.write(`EHLO ${name}\r\n`);
    let reply = await this.reply();
    if (reply.code !== 250) {
      this.write(`HELO ${name}\r\n`);
      reply = await this.reply();
      if (reply.code !== 250) throw replyError(reply, "HELO", "EPROTOCOL");
      this.extensions = new Set();
      this.authMechanisms = [];
      return;
    }
    // "250-PIPELINING", "250-AUTH PLAIN LOGIN", "250 SMTPUTF8": the first line is the greeting
    const lines = reply.text
      .split("\n")
      .slice(1)
      .map((l) => l.slice(4));
    this.extensions = new Set(lines.map((l) => l.trim().split(/\s+/)[0]!.toUpperCase()));
    const auth = lines.find((l) => /^AUTH\b/i.test(l.trim()));
    this.authMechanisms = auth
      ? auth
          .trim()
          .split(/\s+/)
          .slice(1)
          .map((m) => m.toUpperCase())
      : [];
  }

  private async login(auth: { user: string; pass: string }): Promise<void> {
    if (this.authMechanisms.includes("PLAIN")) {
      const token = Buffer.from(`\u0000${auth.user}\u0000${auth.pass}`, "utf8").toString("base64");
      this.write(`AUTH PLAIN ${token}\r\n`);
      const reply = await this.reply();
      if (reply.code !== 235) throw replyError(reply, "AUTH PLAIN", "EAUTH");
      return;
    }
    if (this.authMechanisms.includes("LOGIN")) {
      this.write("AUTH LOGIN\r\n");
      for (const value of [auth.user, auth.pass]) {
        const prompt = await this.reply();
        if (prompt.code !== 334) throw replyError(prompt, "AUTH LOGIN", "EAUTH");
        this.write(`${Buffer.from(value, "utf8").toString("base64")}\r\n`);
      }
      const reply = await this.reply();
      if (reply.code !== 235) throw replyError(reply, "AUTH LOGIN", "EAUTH");
      return;
    }
    throw smtpError(
      `the SMTP server offers AUTH ${this.authMechanisms.join(" ")}, none of which the mailer speaks (PLAIN, LOGIN)`,
      { code: "EAUTH", command: "AUTH" },
    );
  }

  private upgrade(): Promise<void> {
    const plain = this.socket;
    this.detach(plain);
    return new Promise((resolve, reject) => {
      const secured = tlsConnect({
        socket: plain,
        servername: servername(this.options.host),
        ...this.options.tls,
      });
      const onError = (error: Error) => {
        reject(smtpError(`STARTTLS failed: ${error.message}`, { code: "ETLS" }));
      };
      secured.once("error", onError);
      secured.once("secureConnect", () => {
        secured.off("error", onError);
        this.socket = secured;
        this.encrypted = true;
        this.attach(secured);
        resolve();
      });
    });
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffered += chunk.toString("utf8");
    let at = this.buffered.indexOf("\n");
    while (at >= 0) {
      const line = this.buffered.slice(0, at).replace(/\r$/, "");
      this.buffered = this.buffered.slice(at + 1);
      this.lines.push(line);
      // the last line of a reply: three digits, then a space or nothing
      if (/^\d{3}(?: |$)/.test(line)) {
        const text = this.lines.join("\n");
        this.lines = [];
        const reply = { code: Number(line.slice(0, 3)), text };
        const next = this.waiting.shift();
        // replies to pipelined commands may come in one chunk, before their reader asks
        if (next) next.resolve(reply);
        else this.ready.push(reply);
      }
      at = this.buffered.indexOf("\n");
    }
    if (this.buffered.length > 1_000_000) this.fail(smtpError("reply too long", { code: "EPROTOCOL" }));
  };

  private readonly onTimeout = () => {
    this.fail(
      smtpError(`no reply from the SMTP server within ${this.options.timeoutMs} ms`, { code: "ETIMEDOUT" }),
    );
    this.socket.destroy();
  };

  private readonly onError = (error: Error) => {
    this.fail(smtpError(error.message, { code: "ESOCKET" }));
  };

  private readonly onEnd = () => {
    this.fail(smtpError("the SMTP server closed the connection", { code: "ECONNECTION" }));
  };

  private attach(socket: Socket | TLSSocket): void {
    // commands and replies are small and each waits for the other: no Nagle delay
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onEnd);
    socket.on("end", this.onEnd);
    socket.on("timeout", this.onTimeout);
  }

  private detach(socket: Socket | TLSSocket): void {
    socket.off("data", this.onData);
    socket.off("error", this.onError);
    socket.off("close", this.onEnd);
    socket.off("end", this.onEnd);
    socket.off("timeout", this.onTimeout);
  }

  private write(data: string | Buffer): void {
    if (this.failure) throw this.failure;
    this.socket.write(data);
  }

  /** The next reply, within the timeout. */
  private reply(): Promise<Reply> {
    const early = this.ready.shift();
    if (early) return Promise.resolve(early);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.socket.setTimeout(this.options.timeoutMs);
      this.waiting.push({
        resolve: (reply) => {
          if (this.waiting.length === 0) this.socket.setTimeout(0);
          resolve(reply);
        },
        reject,
      });
    });
  }

  private fail(error: SmtpError, destroy = true): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.setTimeout(0);
    for (const w of this.waiting.splice(0)) w.reject(error);
    for (const listener of this.closeListeners.splice(0)) listener();
    if (destroy && !this.socket.destroyed) this.socket.destroy();
  }
}

const servername = (host: string) => (/^[\d.]+$|:/.test(host) ? undefined : host);
