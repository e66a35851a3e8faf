import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import { createTransport, type MailTransport } from "../src/transport.js";

/*
 * The mailer's SMTP connections against a real SMTP server (smtp-server, with its own test
 * certificate): STARTTLS and a login, servers with and without PIPELINING, a refused recipient
 * followed by the next message on the same connection, a connection the server dropped while it
 * was unused, and lines that start with a dot.
 */

interface Seen {
  connections: number;
  messages: { to: string[]; raw: Buffer; secure: boolean; user: string | undefined }[];
}

const servers: SMTPServer[] = [];
const transports: MailTransport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

async function server(options: Partial<SMTPServerOptions>): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { connections: 0, messages: [] };
  const instance = new SMTPServer({
    authOptional: true,
    logger: false,
    onConnect(_session, callback) {
      seen.connections++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        seen.messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user as string | undefined,
        });
        callback(null, "2.0.0 Ok: queued");
      });
    },
    ...options,
  });
  instance.on("error", () => {});
  servers.push(instance);
  await new Promise<void>((resolve) => instance.listen(0, "127.0.0.1", resolve));
  return { port: (instance.server.address() as AddressInfo).port, seen };
}

const transport = (url: string) => {
  const t = createTransport({ url, poolSize: 2, timeoutMs: 5_000 });
  transports.push(t);
  return t;
};

const message = (to: string, text = "Hola\n") => ({
  from: "Cobros <cobros@finanzas.test>",
  to,
  subject: "Aviso",
  html: "<p>Hola</p>",
  text,
  messageId: `${to}@finanzas.test`,
});

describe("SMTP connections", () => {
  it("upgrade with STARTTLS and log in (PLAIN, or LOGIN when that is all the server offers)", async () => {
    for (const authMethods of [["PLAIN", "LOGIN"], ["LOGIN"]]) {
      const { port, seen } = await server({
        authMethods,
        authOptional: false,
        onAuth(auth, _session, callback) {
          if (auth.username === "mailer" && auth.password === "s3cret:/@x")
            return callback(null, { user: "mailer" });
          callback(new Error("invalid credentials"));
        },
      });
      const t = transport(
        `smtp://mailer:${encodeURIComponent("s3cret:/@x")}@127.0.0.1:${port}?tls.rejectUnauthorized=false`,
      );
      expect(await t.send(message("a@example.com"))).toMatchObject({
        kind: "sent",
        response: "250 2.0.0 Ok: queued",
      });
      expect(seen.messages).toMatchObject([{ to: ["a@example.com"], secure: true, user: "mailer" }]);
    }
  });

  it("send with and without PIPELINING, and dot-stuff lines that start with a dot", async () => {
    const text = ".\n..two\n.leading\nend\n";
    for (const hidePIPELINING of [false, true]) {
      const { port, seen } = await server({ disabledCommands: ["STARTTLS", "AUTH"], hidePIPELINING });
      const t = transport(`smtp://127.0.0.1:${port}`);
      expect((await t.send(message("b@example.com", text))).kind).toBe("sent");
      expect((await simpleParser(seen.messages[0]!.raw)).text).toBe(text);
    }
  });

  it("keep the connection after a refused recipient (RSET), and report the refusal", async () => {
    const { port, seen } = await server({
      disabledCommands: ["STARTTLS", "AUTH"],
      onRcptTo(address, _session, callback) {
        if (address.address === "gone@example.com") {
          return callback(
            Object.assign(new Error("5.1.1 <gone@example.com>: User unknown"), { responseCode: 550 }),
          );
        }
        callback();
      },
    });
    const t = createTransport({ url: `smtp://127.0.0.1:${port}`, poolSize: 1, timeoutMs: 5_000 });
    transports.push(t);
    expect(await t.send(message("gone@example.com"))).toMatchObject({
      kind: "permanent",
      addressError: true,
      response: expect.stringMatching(/^550 5\.1\.1/),
    });
    expect((await t.send(message("c@example.com"))).kind).toBe("sent");
    expect(seen.connections).toBe(1);
    expect(seen.messages.map((m) => m.to)).toEqual([["c@example.com"]]);
  });

  it("send the next message on a new connection when the server dropped the unused one", async () => {
    const { port, seen } = await server({ disabledCommands: ["STARTTLS", "AUTH"], socketTimeout: 300 });
    const t = createTransport({ url: `smtp://127.0.0.1:${port}`, poolSize: 1, timeoutMs: 5_000 });
    transports.push(t);
    expect((await t.send(message("d@example.com"))).kind).toBe("sent");
    await new Promise((r) => setTimeout(r, 800)); // the server closes the idle connection
    expect((await t.send(message("e@example.com"))).kind).toBe("sent");
    expect(seen.connections).toBe(2);
    expect(seen.messages.map((m) => m.to)).toEqual([["d@example.com"], ["e@example.com"]]);
  });

  it("lend at most their number of connections at once, in turn", async () => {
    const { port } = await server({ disabledCommands: ["STARTTLS", "AUTH"] });
    const t = transport(`smtp://127.0.0.1:${port}`);
    const first = await t.connection();
    const second = await t.connection();
    let third = false;
    const waiting = t.connection().then((c) => {
      third = true;
      return c;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(third).toBe(false);
    first.release();
    const lent = await waiting;
    expect(third).toBe(true);
    const aborted = new AbortController();
    const refused = t.connection(aborted.signal);
    aborted.abort(new Error("stopping"));
    await expect(refused).rejects.toThrow("stopping");
    second.release();
    lent.release();
  });
});
