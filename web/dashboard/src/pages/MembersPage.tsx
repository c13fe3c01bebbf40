import { useEffect, useRef, useState, type FormEvent } from "react";
import {
  atLeast,
  changeRole,
  createInvite,
  listMembers,
  removeMember,
  revokeInvite,
  ROLES,
  unlockMember,
  type Invite,
  type InviteCreated,
  type Member,
  type Role,
} from "../api";
import { Badge } from "../components/Badge";
import { ConfirmButton } from "../components/ConfirmButton";
import { CopyButton } from "../components/CopyButton";
import { ErrorBanner } from "../components/ErrorBanner";
import { Field } from "../components/Field";
import { PageHeader } from "../components/PageHeader";
import { LoadFailed, Loading } from "../components/States";
import { formatDateTime, formatRelative } from "../format";
import { focusFirstInvalid, useFormErrors } from "../formErrors";
import { useSession } from "../session";
import { useLoad } from "../useLoad";
import { useTitle } from "../useTitle";

const ROLE_HELP: Record<Role, string> = {
  owner: "everything, including owners",
  admin: "everything but owners: members, audit log",
  developer: "agents, knowledge, voices, keys, calls",
  viewer: "reads everything, changes nothing",
};

/** The roles `me` may hand out: up to their own. */
function grantable(me: string): Role[] {
  return ROLES.filter((r) => atLeast(me, r));
}

function NewInvitePanel({ created, onDone }: { created: InviteCreated; onDone: () => void }) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  return (
    <section className="secret-panel" aria-labelledby="new-invite-heading">
      <h3 id="new-invite-heading" ref={headingRef} tabIndex={-1}>
        Invitation for {created.email}
      </h3>
      <p>
        <strong>Send this link to them yourself: you won't see it again.</strong> It works once, until{" "}
        {formatDateTime(created.expires_at)}.
      </p>
      <div className="secret-panel__value">
        <code data-testid="invite-link">{created.url}</code>
        <CopyButton text={created.url} />
      </div>
      <button type="button" className="button button--secondary button--small" onClick={onDone}>
        Done
      </button>
    </section>
  );
}

function MemberRow({ member, onChanged, onRemoved }: { member: Member; onChanged: (m: Member) => void; onRemoved: (id: string) => void }) {
  const { user } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const manages = atLeast(user.role, "admin") && (member.role !== "owner" || user.role === "owner");
  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e instanceof Error ? e.message : "Something went wrong");
    } finally {
      setBusy(false);
    }
  };
  const you = member.id === user.id;
  return (
    <tr>
      <th scope="row">
        {member.email}
        {you ? <span className="muted"> (you)</span> : null}
      </th>
      <td>
        {manages ? (
          <select
            aria-label={`Role of ${member.email}`}
            value={member.role}
            disabled={busy}
            onChange={(e) => void act(async () => onChanged(await changeRole(member.id, e.target.value as Role)))}
          >
            {grantable(user.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          member.role
        )}
      </td>
      <td>
        {member.last_login_at ? (
          <time dateTime={member.last_login_at} title={formatDateTime(member.last_login_at)}>
            {formatRelative(member.last_login_at)}
          </time>
        ) : (
          "Never"
        )}
      </td>
      <td>
        {member.locked_until ? (
          <Badge tone="danger">Locked until {formatDateTime(member.locked_until)}</Badge>
        ) : (
          <Badge tone="success">Active</Badge>
        )}
      </td>
      <td className="cell--actions">
        {member.locked_until && manages ? (
          <button
            type="button"
            className="button button--secondary button--small"
            disabled={busy}
            onClick={() => void act(async () => onChanged(await unlockMember(member.id)))}
          >
            Unlock
          </button>
        ) : null}
        {manages && !you ? (
          <ConfirmButton
            label="Remove"
            question={`Remove ${member.email}? Their sign-ins end at once.`}
            confirmLabel="Yes, remove"
            busy={busy}
            onConfirm={() => act(async () => {
              await removeMember(member.id);
              onRemoved(member.id);
            })}
            className="button button--danger-quiet button--small"
          />
        ) : null}
        {error ? (
          <p className="field__error" role="alert">
            {error}
          </p>
        ) : null}
      </td>
    </tr>
  );
}

function InviteRow({ invite, onRevoked }: { invite: Invite; onRevoked: (id: string) => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <tr>
      <th scope="row">{invite.email}</th>
      <td>{invite.role}</td>
      <td>
        <time dateTime={invite.expires_at}>{formatDateTime(invite.expires_at)}</time>
      </td>
      <td className="cell--actions">
        <ConfirmButton
          label="Revoke"
          question={`Revoke the invitation for ${invite.email}? The link stops working.`}
          confirmLabel="Yes, revoke"
          busy={busy}
          onConfirm={async () => {
            setBusy(true);
            try {
              await revokeInvite(invite.id);
              onRevoked(invite.id);
            } finally {
              setBusy(false);
            }
          }}
          className="button button--danger-quiet button--small"
        />
      </td>
    </tr>
  );
}

const FIELDS = ["email", "role"] as const;

/** `/members`: who is in the organisation, with which role; invitations by link. */
export function MembersPage() {
  useTitle("Members");
  const { user } = useSession();
  const [page, reload, setPage] = useLoad(listMembers, []);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("developer");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<InviteCreated | null>(null);
  const { errors, fail, clear, setField } = useFormErrors(FIELDS);
  const formRef = useRef<HTMLFormElement>(null);
  const admin = atLeast(user.role, "admin");

  const invite = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    if (!email.trim()) {
      setField("email", "Enter the address to invite");
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
      return;
    }
    setBusy(true);
    try {
      const made = await createInvite(email.trim(), role);
      setCreated(made);
      setEmail("");
      reload();
    } catch (error) {
      fail(error);
      requestAnimationFrame(() => focusFirstInvalid(formRef.current));
    } finally {
      setBusy(false);
    }
  };

  const update = (change: (p: { members: Member[]; invites: Invite[] }) => { members: Member[]; invites: Invite[] }) => {
    if (page.state === "ready") setPage(change(page.data));
  };

  return (
    <>
      <PageHeader title="Members" description="Everyone who signs in to this organisation's dashboard, and what they may do." />
      <div className="stack-lg">
        {admin ? (
          <section className="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">Invite someone</h2>
            <form ref={formRef} className="inline-form" onSubmit={(e) => void invite(e)} noValidate>
              <Field label="Email" error={errors.fields["email"]} required>
                {(p) => <input {...p} type="email" value={email} placeholder="name@example.com" onChange={(e) => setEmail(e.target.value)} />}
              </Field>
              <Field label="Role" error={errors.fields["role"]} hint={ROLE_HELP[role]}>
                {(p) => (
                  <select {...p} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                    {grantable(user.role).map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <button type="submit" className="button button--primary" disabled={busy}>
                {busy ? "Inviting…" : "Create invitation link"}
              </button>
            </form>
            <ErrorBanner message={errors.banner} />
            {created ? <NewInvitePanel created={created} onDone={() => setCreated(null)} /> : null}
          </section>
        ) : null}

        <section className="card" aria-labelledby="members-heading">
          <h2 id="members-heading">Members</h2>
          {page.state === "loading" ? <Loading label="Loading members…" /> : null}
          {page.state === "failed" ? <LoadFailed error={page.error} onRetry={reload} /> : null}
          {page.state === "ready" ? (
            <div className="table-wrap">
              <table className="table">
                <caption className="visually-hidden">Members</caption>
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Last sign-in</th>
                    <th scope="col">Status</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {page.data.members.map((m) => (
                    <MemberRow
                      key={m.id}
                      member={m}
                      onChanged={(changed) => update((p) => ({ ...p, members: p.members.map((x) => (x.id === changed.id ? changed : x)) }))}
                      onRemoved={(id) => update((p) => ({ ...p, members: p.members.filter((x) => x.id !== id) }))}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </section>

        {page.state === "ready" && page.data.invites.length > 0 ? (
          <section className="card" aria-labelledby="invites-heading">
            <h2 id="invites-heading">Pending invitations</h2>
            <div className="table-wrap">
              <table className="table">
                <caption className="visually-hidden">Pending invitations</caption>
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Link expires</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {page.data.invites.map((i) =>
                    admin ? (
                      <InviteRow key={i.id} invite={i} onRevoked={(id) => update((p) => ({ ...p, invites: p.invites.filter((x) => x.id !== id) }))} />
                    ) : (
                      <tr key={i.id}>
                        <th scope="row">{i.email}</th>
                        <td>{i.role}</td>
                        <td>{formatDateTime(i.expires_at)}</td>
                        <td />
                      </tr>
                    ),
                  )}
                </tbody>
              </table>
            </div>
          </section>
        ) : null}
      </div>
    </>
  );
}
