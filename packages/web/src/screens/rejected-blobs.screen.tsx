import type { RejectedBlob } from '../lib/api-types';
import { bytesText, instantText } from '../lib/format';
import { ErrorNote, useApi } from '../lib/use-api';

/** Blobs seen in storage but not taken in as evidence (admins). */
export function RejectedBlobsScreen() {
  const { data, error } = useApi<{ total: number; items: RejectedBlob[] }>('/admin/rejected-blobs?limit=500');
  return (
    <section aria-labelledby="rejected-title">
      <h1 id="rejected-title">Rejected blobs</h1>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>None: every blob seen was taken in as evidence.</p>}
      {data && data.items.length > 0 && (
        <table className="grid-table" data-testid="rejected">
          <caption>
            {data.total} blob{data.total === 1 ? '' : 's'} not taken in as evidence
          </caption>
          <thead>
            <tr>
              <th scope="col">Container</th>
              <th scope="col">Name as stored</th>
              <th scope="col">Size</th>
              <th scope="col">Why</th>
              <th scope="col">Seen</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((b) => (
              <tr key={`${b.container}/${b.blobName}/${b.firstSeenAt}`}>
                <td>{b.container}</td>
                <td className="mono break">{JSON.stringify(b.blobName)}</td>
                <td>{bytesText(b.size)}</td>
                <td>
                  {b.reason}: {b.detail}
                </td>
                <td>
                  {b.seenCount}× from {instantText(b.firstSeenAt)} to {instantText(b.lastSeenAt)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
