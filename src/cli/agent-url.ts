import { InvalidArgumentError } from 'commander';

/**
 * The `<url>` argument of the client commands. A URL without a scheme
 * (`localhost:8080/a2a/echo/`) means `http://`; anything that is not then an http(s) URL is
 * a usage error that says what to type.
 */
export function parseAgentUrl(value: string): string {
  const trimmed = value.trim();
  const withScheme = /^[a-z][a-z\d+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidArgumentError(
      `"${value}" is not a URL; type an agent's URL, e.g. http://localhost:8080/a2a/echo/`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError(
      `agents are reached over http:// or https://, not ${url.protocol}//; e.g. http://localhost:8080/a2a/echo/`,
    );
  return url.href;
}
