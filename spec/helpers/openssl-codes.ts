/**
 * OpenSSL error codes as Node reports them, written so that they hold on every Node line we
 * test (README, "Supported Node versions"). Node makes the code of an OpenSSL error from its
 * reason string: `ERR_SSL_` + the reason upper-cased, spaces turned into `_`. The reasons of
 * the alerts that SSL 3.0 defined were renamed between OpenSSL 3.0 (bundled by Node 20) and
 * 3.5 (Node 22, 24, 26): "sslv3 alert handshake failure" became "ssl/tls alert handshake
 * failure", so the same alert is `ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE` on Node 20 and
 * `ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE` after it — a code with a slash in it. The
 * `tlsv1 alert …` reasons (protocol version, no application protocol, …) kept their names.
 */

/** Both spellings of an alert from SSL 3.0's set (`HANDSHAKE_FAILURE`, `BAD_CERTIFICATE`, …), as a regex source. */
export function sslv3AlertSource(name: string): string {
  return `ERR_SSL_(?:SSLV3|SSL/TLS)_ALERT_${name}`;
}

/** The code of an SSL 3.0 alert `name` as reported by any tested Node line: matches the whole code. */
export function sslv3Alert(name: string): RegExp {
  return new RegExp(`^${sslv3AlertSource(name)}$`);
}

/** Any Node error code in a log line: `ERR_` and then letters, digits, `_` and `/` (OpenSSL 3.2+ reasons carry `ssl/tls`). */
export const ANY_ERR_CODE = 'ERR_[\\w/]+';
