/**
 * The RFC 9112 conformance table: requests and how a strict server answers them. Used by the parser unit tests
 * (directly) and by the server tests (over real sockets, each on its own connection). `status` 0 means "accepted";
 * any other status is the refusal, always followed by a closed connection.
 */

export interface Case {
  readonly name: string;
  readonly raw: string;
  readonly status: number;
  /** RFC 9112 / 9110 section the rule comes from. */
  readonly rfc: string;
}

const H = 'Host: a\r\n';

/** Accepted requests (status 0): the server must answer them normally. */
export const VALID: Case[] = [
  { name: 'simple GET', raw: `GET / HTTP/1.1\r\n${H}\r\n`, status: 0, rfc: '9112 §3' },
  { name: 'HTTP/1.0 without Host', raw: 'GET / HTTP/1.0\r\n\r\n', status: 0, rfc: '9112 §3.2' },
  { name: 'absolute-form target', raw: `GET http://a/x?y HTTP/1.1\r\n${H}\r\n`, status: 0, rfc: '9112 §3.2.2' },
  { name: 'asterisk-form OPTIONS', raw: `OPTIONS * HTTP/1.1\r\n${H}\r\n`, status: 0, rfc: '9112 §3.2.4' },
  { name: 'leading empty line ignored', raw: `\r\nGET / HTTP/1.1\r\n${H}\r\n`, status: 0, rfc: '9112 §2.2' },
  { name: 'Content-Length body', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`, status: 0, rfc: '9112 §6.2' },
  { name: 'chunked body', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, status: 0, rfc: '9112 §7.1' },
  { name: 'chunked, upper-case coding name', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n`, status: 0, rfc: '9112 §7' },
  { name: 'chunk extension', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n0\r\n\r\n`, status: 0, rfc: '9112 §7.1.1' },
  { name: 'quoted chunk extension', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;n="v v"\r\nabc\r\n0\r\n\r\n`, status: 0, rfc: '9112 §7.1.1' },
  { name: 'chunk size with leading zeros', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0003\r\nabc\r\n0\r\n\r\n`, status: 0, rfc: '9112 §7.1' },
  { name: 'trailer fields', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Sum: 1\r\n\r\n`, status: 0, rfc: '9112 §7.1.2' },
  { name: 'OWS around a field value', raw: `GET / HTTP/1.1\r\nHost:  a \t\r\n\r\n`, status: 0, rfc: '9112 §5.1' },
  { name: 'empty field value', raw: `GET / HTTP/1.1\r\n${H}X-Empty:\r\n\r\n`, status: 0, rfc: '9110 §5.5' },
  { name: 'obs-text in a field value', raw: `GET / HTTP/1.1\r\n${H}X-Latin: caf\xe9\r\n\r\n`, status: 0, rfc: '9110 §5.5' },
  { name: 'Content-Length: 0', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`, status: 0, rfc: '9112 §6.2' },
  { name: 'HEAD', raw: `HEAD / HTTP/1.1\r\n${H}\r\n`, status: 0, rfc: '9110 §9.3.2' },
  { name: 'extension method', raw: `PROPFIND / HTTP/1.1\r\n${H}\r\n`, status: 0, rfc: '9110 §9.1' },
  { name: 'Host with port', raw: 'GET / HTTP/1.1\r\nHost: a:8080\r\n\r\n', status: 0, rfc: '9110 §7.2' },
  { name: 'Host IPv6 literal', raw: 'GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n', status: 0, rfc: '9110 §7.2' },
];

const refused: Case[] = [
  // Start line.
  { name: 'lower-case HTTP version', raw: `GET / http/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §2.3' },
  { name: 'missing version', raw: `GET /\r\n${H}\r\n`, status: 400, rfc: '9112 §3' },
  { name: 'HTTP/0.9 style', raw: 'GET /\r\n\r\n', status: 400, rfc: '9112 §3' },
  { name: 'two spaces after method', raw: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3' },
  { name: 'two spaces before version', raw: `GET /  HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3' },
  { name: 'tab as separator', raw: `GET\t/ HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3' },
  { name: 'trailing space after version', raw: `GET / HTTP/1.1 \r\n${H}\r\n`, status: 400, rfc: '9112 §3' },
  { name: 'space in target', raw: `GET /a b HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3.2' },
  { name: 'non-ASCII byte in target', raw: `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3.2' },
  { name: 'DEL in target', raw: `GET /\x7f HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3.2' },
  { name: 'HTTP/2.0', raw: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505, rfc: '9112 §2.3' },
  { name: 'HTTP/1.2', raw: `GET / HTTP/1.2\r\n${H}\r\n`, status: 505, rfc: '9112 §2.3' },
  { name: 'HTTP/1.10', raw: `GET / HTTP/1.10\r\n${H}\r\n`, status: 400, rfc: '9112 §2.3' },
  { name: 'HTTP/1.x', raw: `GET / HTTP/1.x\r\n${H}\r\n`, status: 400, rfc: '9112 §2.3' },
  { name: 'empty method', raw: ` / HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3.1' },
  { name: 'bare LF after request line', raw: `GET / HTTP/1.1\n${H}\r\n`, status: 400, rfc: '9112 §2.2' },
  { name: 'bare CR in request line', raw: `GET /\r HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §2.2' },
  { name: 'bare LF line endings', raw: 'GET / HTTP/1.1\nHost: a\n\n', status: 400, rfc: '9112 §2.2' },
  // Header fields.
  { name: 'obs-fold (SP)', raw: `GET / HTTP/1.1\r\n${H}X-A: 1\r\n 2\r\n\r\n`, status: 400, rfc: '9112 §5.2' },
  { name: 'obs-fold (HTAB)', raw: `GET / HTTP/1.1\r\n${H}X-A: 1\r\n\t2\r\n\r\n`, status: 400, rfc: '9112 §5.2' },
  { name: 'space before colon', raw: `GET / HTTP/1.1\r\n${H}X-A : 1\r\n\r\n`, status: 400, rfc: '9112 §5.1' },
  { name: 'tab before colon', raw: `GET / HTTP/1.1\r\n${H}X-A\t: 1\r\n\r\n`, status: 400, rfc: '9112 §5.1' },
  { name: 'missing colon', raw: `GET / HTTP/1.1\r\n${H}X-A 1\r\n\r\n`, status: 400, rfc: '9112 §5' },
  { name: 'empty field name', raw: `GET / HTTP/1.1\r\n${H}: 1\r\n\r\n`, status: 400, rfc: '9112 §5' },
  { name: 'bare CR in a field value', raw: `GET / HTTP/1.1\r\n${H}X-A: 1\r2\r\n\r\n`, status: 400, rfc: '9112 §2.2' },
  { name: 'bare LF in a field value', raw: `GET / HTTP/1.1\r\n${H}X-A: 1\n2\r\n\r\n`, status: 400, rfc: '9112 §2.2' },
  { name: 'whitespace line before headers', raw: `GET / HTTP/1.1\r\n \r\n${H}\r\n`, status: 400, rfc: '9112 §2.2' },
  // Host.
  { name: 'HTTP/1.1 without Host', raw: 'GET / HTTP/1.1\r\n\r\n', status: 400, rfc: '9112 §3.2' },
  { name: 'two Host fields', raw: `GET / HTTP/1.1\r\n${H}${H}\r\n`, status: 400, rfc: '9112 §3.2' },
  { name: 'Host with a space', raw: 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', status: 400, rfc: '9110 §7.2' },
  { name: 'Host with a slash', raw: 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', status: 400, rfc: '9110 §7.2' },
  { name: 'Host with userinfo @', raw: 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', status: 400, rfc: '9110 §7.2' },
  // Content-Length.
  { name: 'CL and TE together', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'TE and CL together', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'duplicate Content-Length, same value', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, status: 400, rfc: '9112 §6.3' },
  { name: 'duplicate Content-Length, different values', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, status: 400, rfc: '9112 §6.3' },
  { name: 'Content-Length list', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, status: 400, rfc: '9112 §6.3' },
  { name: 'negative Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400, rfc: '9112 §6.3' },
  { name: 'Content-Length with plus sign', raw: `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, status: 400, rfc: '9112 §6.3' },
  { name: 'hex Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`, status: 400, rfc: '9112 §6.3' },
  { name: 'Content-Length with inner space', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\n`, status: 400, rfc: '9112 §6.3' },
  { name: 'empty Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, status: 400, rfc: '9112 §6.3' },
  { name: 'huge Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, status: 400, rfc: '9112 §6.3' },
  { name: 'Content-Length above the limit', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 1048577\r\n\r\n`, status: 413, rfc: '9110 §15.5.14' },
  // Transfer-Encoding.
  { name: 'TE not ending in chunked', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, status: 400, rfc: '9112 §6.3' },
  { name: 'unknown transfer coding', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, status: 501, rfc: '9112 §6.1' },
  { name: 'chunked twice', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'chunked in two fields', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'gzip then chunked (unsupported coding)', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, status: 501, rfc: '9112 §6.1' },
  { name: 'TE with a quoted coding', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'TE chunked with trailing comma', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'TE in HTTP/1.0', raw: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, rfc: '9112 §6.1' },
  { name: 'TE chunked with a vertical tab', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n`, status: 400, rfc: '9112 §6.1' },
  { name: 'TE "xchunked"', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, status: 501, rfc: '9112 §6.1' },
  // Chunked framing.
  { name: 'chunk size not hex', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'empty chunk size', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'negative chunk size', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-1\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'chunk size with 0x prefix', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'chunk size overflow', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'chunk size with bare LF', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'chunk data longer than size', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'chunk data without CRLF', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc0\r\n\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'chunk data followed by bare LF', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1' },
  { name: 'control byte in chunk extension', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a\x01\r\nabc\r\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1.1' },
  { name: 'bare LF in chunk extension', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a\nabc\r\n0\r\n\r\n`, status: 400, rfc: '9112 §7.1.1' },
  { name: 'obs-fold in trailers', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n`, status: 400, rfc: '9112 §7.1.2' },
  { name: 'bare LF in trailers', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n`, status: 400, rfc: '9112 §7.1.2' },
  { name: 'space before colon in trailers', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX : 1\r\n\r\n`, status: 400, rfc: '9112 §7.1.2' },
  // Expectations.
  { name: 'unknown expectation', raw: `GET / HTTP/1.1\r\n${H}Expect: teapot\r\n\r\n`, status: 417, rfc: '9110 §10.1.1' },
];

// Every separator that is not a token character, in a field name.
for (const c of '(),/;<=>?@[\\]{}"') {
  refused.push({ name: `separator ${JSON.stringify(c)} in a field name`, raw: `GET / HTTP/1.1\r\n${H}X${c}A: 1\r\n\r\n`, status: 400, rfc: '9110 §5.1' });
}
// Every control byte except HTAB in a field value (CR and LF are covered above as bare CR / LF).
for (let c = 0; c < 32; c++) {
  if (c === 9 || c === 10 || c === 13) continue;
  refused.push({ name: `control byte 0x${c.toString(16).padStart(2, '0')} in a field value`, raw: `GET / HTTP/1.1\r\n${H}X-A: a${String.fromCharCode(c)}b\r\n\r\n`, status: 400, rfc: '9110 §5.5' });
}
refused.push({ name: 'DEL in a field value', raw: `GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`, status: 400, rfc: '9110 §5.5' });
// Control bytes and separators in the method.
for (const c of ['\x00', '\x01', '\x7f', '(', '@', ':', '"']) {
  refused.push({ name: `byte ${JSON.stringify(c)} in the method`, raw: `G${c}T / HTTP/1.1\r\n${H}\r\n`, status: 400, rfc: '9112 §3.1' });
}

/** Requests a strict server refuses, with the status it answers before closing the connection. */
export const REFUSED: Case[] = refused;

/** Limits used with the tables above (the server tests use the same). */
export const CASE_LIMITS = { maxHeaderBytes: 4096, maxHeaderCount: 50, maxBodyBytes: 1024 * 1024 };

/** Limit cases, built from {@link CASE_LIMITS}. */
export const LIMIT_CASES: Case[] = [
  { name: 'head larger than maxHeaderBytes', raw: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(5000)}\r\n\r\n`, status: 431, rfc: '6585 §5' },
  { name: 'long target counts toward the head', raw: `GET /${'a'.repeat(5000)} HTTP/1.1\r\n${H}\r\n`, status: 431, rfc: '6585 §5' },
  { name: 'more fields than maxHeaderCount', raw: `GET / HTTP/1.1\r\n${H}${'X-N: 1\r\n'.repeat(60)}\r\n`, status: 431, rfc: '6585 §5' },
  { name: 'trailers larger than maxHeaderBytes', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: ${'a'.repeat(5000)}\r\n\r\n`, status: 431, rfc: '6585 §5' },
  { name: 'chunked body growing past maxBodyBytes', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n100001\r\n`, status: 413, rfc: '9110 §15.5.14' },
];
