import { useState, type FormEvent } from 'react';
import type { Assignment } from '../lib/api-types';
import { apiSend, enc } from '../lib/api';
import { instantText } from '../lib/format';
import { ErrorNote, useApi } from '../lib/use-api';

const ROLES = ['investigator', 'examiner', 'supervisor', 'admin'];

/** Who is on the case; supervisors of the case and admins add and remove people (each change is a custody entry). */
export function AssignmentsScreen({ caseId }: { caseId: string }) {
  const { data, error, reload } = useApi<{ assignments: Assignment[] }>(`/cases/${enc(caseId)}/assignments`);
  const [user, setUser] = useState('');
  const [role, setRole] = useState('investigator');
  const [failure, setFailure] = useState<string | null>(null);
  const run = async (p: Promise<unknown>) => {
    setFailure(null);
    try {
      await p;
    } catch (e) {
      // A removal the API says removed nothing (404) is shown, and the list re-read, so nobody believes access was withdrawn.
      setFailure(e instanceof Error ? e.message : String(e));
    }
    reload();
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!user.trim()) return;
    void run(apiSend('POST', `/cases/${enc(caseId)}/assignments`, { user: user.trim(), role })).then(() => setUser(''));
  };
  return (
    <section aria-labelledby="assign-title">
      <h1 id="assign-title">Assignments</h1>
      <ErrorNote error={error} />
      {data && (
        <table className="grid-table" data-testid="assignments">
          <caption className="sr-only">Users assigned to the case</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role on this case</th>
              <th scope="col">Assigned by</th>
              <th scope="col">When</th>
              <th scope="col">Remove</th>
            </tr>
          </thead>
          <tbody>
            {data.assignments.map((a) => (
              <tr key={a.user}>
                <td>
                  {a.user}
                  {/* Bound at their first sign-in: the assignment is this Entra account's, whatever its name becomes. */}
                  {a.objectId && <div className="hint mono">object id {a.objectId}</div>}
                </td>
                <td>{a.role ?? 'their token roles'}</td>
                <td>{a.assignedBy}</td>
                <td>{instantText(a.assignedAt)}</td>
                <td>
                  <button type="button" onClick={() => void run(apiSend('DELETE', `/cases/${enc(caseId)}/assignments/${enc(a.user)}`))} aria-label={`Remove ${a.user}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Add someone</h2>
      <form onSubmit={add} className="inline-form">
        <label>
          User <input name="assign-user" value={user} onChange={(e) => setUser(e.target.value)} />
        </label>
        <label>
          Role{' '}
          <select name="assign-role" value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit">Assign</button>
      </form>
      {failure && (
        <p role="alert" className="error">
          {failure}
        </p>
      )}
    </section>
  );
}
