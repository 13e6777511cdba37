import type { Part } from '@a2a-js/sdk';
import type { CallToolResult } from '@modelcontextprotocol/client';

type ContentBlock = CallToolResult['content'][number];

function part(
  content: Part['content'],
  mediaType: string,
  filename = '',
  metadata?: Record<string, unknown>,
): Part {
  return { content, mediaType, filename, metadata };
}

/** The last path segment of a URI, as a file name (`''` when it has none). */
function fileNameOf(uri: string): string {
  try {
    const path = new URL(uri).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
  } catch {
    return '';
  }
}

/**
 * One MCP content block as an A2A part: text → text part; image and audio → file part
 * (raw bytes) with their media type; an embedded resource → file part (its text or blob
 * as bytes) named after its URI; a resource link → file part by URL. Annotations and the
 * resource URI travel in the part's metadata under `mcp`.
 */
export function mcpContentToPart(block: ContentBlock): Part {
  const annotations = 'annotations' in block && block.annotations ? { annotations: block.annotations } : {};
  switch (block.type) {
    case 'text':
      return part(
        { $case: 'text', value: block.text },
        'text/plain',
        '',
        Object.keys(annotations).length ? { mcp: annotations } : undefined,
      );
    case 'image':
    case 'audio':
      return part({ $case: 'raw', value: Buffer.from(block.data, 'base64') }, block.mimeType, '', {
        mcp: { type: block.type, ...annotations },
      });
    case 'resource': {
      const r = block.resource;
      const bytes = 'blob' in r ? Buffer.from(r.blob, 'base64') : Buffer.from(r.text, 'utf8');
      return part(
        { $case: 'raw', value: bytes },
        r.mimeType ?? ('blob' in r ? 'application/octet-stream' : 'text/plain'),
        fileNameOf(r.uri),
        { mcp: { type: 'resource', uri: r.uri, ...annotations } },
      );
    }
    case 'resource_link':
      return part(
        { $case: 'url', value: block.uri },
        block.mimeType ?? '',
        block.name || fileNameOf(block.uri),
        {
          mcp: {
            type: 'resource_link',
            ...(block.description ? { description: block.description } : {}),
            ...annotations,
          },
        },
      );
    default:
      // A content type newer than this client: keep it, as JSON.
      return part({ $case: 'data', value: block as unknown }, 'application/json', '', {
        mcp: { type: (block as { type?: string }).type ?? 'unknown' },
      });
  }
}

/** A tool result as artifact parts: each content block, then the structured content as a data part. */
export function toolResultToParts(result: CallToolResult): Part[] {
  const parts = result.content.map(mcpContentToPart);
  if (result.structuredContent !== undefined) {
    parts.push(
      part({ $case: 'data', value: result.structuredContent }, 'application/json', '', {
        mcp: { type: 'structuredContent' },
      }),
    );
  }
  return parts;
}

/** The text of a tool's result (its error message when `isError`). */
export function toolResultText(result: CallToolResult): string {
  return result.content
    .filter((b): b is Extract<ContentBlock, { type: 'text' }> => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
}
