"""The SQL statements that ``MessageStore`` runs on its hot paths.

Each constant is a complete statement or a fragment that the statements
below it share. The ``sqlite3`` module caches prepared statements by their
text, so a connection parses each statement here once while it stays among
the 256 statements that ``MessageStore`` lets each connection cache.
"""

MESSAGE_COLUMNS = (
    "message_id, conversation_id, seq, sender_id, client_msg_id, type, content, "
    "created_at"
)

# The sender's membership, the member count and the next seq, in one query.
# No row back means an unknown conversation, an unknown user or a non-member.
SEND_CHECK = """
SELECT c.member_count, (
    SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE conversation_id = ?1
)
FROM members m JOIN conversations c ON c.conversation_id = m.conversation_id
WHERE m.conversation_id = ?1 AND m.user_id = ?2 AND m.leave_seq IS NULL
"""
LAST_SEQ = "SELECT coalesce(max(seq), 0) FROM messages WHERE conversation_id = ?"
INSERT_MESSAGE = """
INSERT INTO messages (
    message_id, conversation_id, seq, sender_id, client_msg_id, type, content,
    target_id, via_inbox, created_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# Each current member with their next per-user inbox seq.
MEMBER_INBOX_SEQS = """
SELECT m.user_id, coalesce(
    (SELECT max(i.user_seq) FROM inbox i WHERE i.user_id = m.user_id), 0
) + 1
FROM members m
WHERE m.conversation_id = ? AND m.leave_seq IS NULL
"""
NEXT_INBOX_SEQ = "SELECT coalesce(max(user_seq), 0) + 1 FROM inbox WHERE user_id = ?"
INSERT_INBOX = """
INSERT INTO inbox (user_id, user_seq, conversation_id, seq, message_id)
VALUES (?, ?, ?, ?, ?)
"""

# Sync columns in SyncItem order. A message removed for this user before it
# is synced arrives with empty content; its recall or delete item follows.
SYNC_COLUMNS = """
m.message_id, m.type, m.conversation_id, m.seq, m.sender_id,
CASE WHEN EXISTS (
    SELECT 1 FROM removals r
    WHERE r.message_id = m.message_id AND r.user_id IN (0, :user)
) THEN '' ELSE m.content END,
t.seq, m.created_at, m.client_msg_id
"""
SYNC_INBOX = f"""
SELECT i.user_seq, {SYNC_COLUMNS}
FROM inbox i
JOIN messages m ON m.message_id = i.message_id
LEFT JOIN messages t ON t.message_id = m.target_id
WHERE i.user_id = :user AND i.user_seq > :after
ORDER BY i.user_seq
LIMIT :limit
"""
# Each members row is one membership period, so the user receives the
# timeline messages of every period and none sent while they were out.
SYNC_TIMELINES = f"""
SELECT {SYNC_COLUMNS}
FROM members mb
JOIN messages m
    ON m.conversation_id = mb.conversation_id
    AND m.via_inbox = 0
    AND m.message_id > :after
LEFT JOIN messages t ON t.message_id = m.target_id
WHERE mb.user_id = :user
    AND m.seq > mb.join_seq
    AND (mb.leave_seq IS NULL OR m.seq <= mb.leave_seq)
ORDER BY m.message_id
LIMIT :limit
"""

# Unread: other members' content messages above the read position, inside one
# of the user's membership periods (above its join position and at most its
# leave position), and not removed for this user. Each period is one members
# row. add_member() starts a period at or after the end of the last one, so
# periods do not overlap and a message is counted at most once. The inbox
# query counts messages fanned out on write; the timeline query counts the
# rest.
NOT_REMOVED = """
NOT EXISTS (
    SELECT 1 FROM removals r
    WHERE r.message_id = m.message_id AND r.user_id IN (0, :user)
)
"""
UNREAD_INBOX = f"""
SELECT i.conversation_id, count(*)
FROM members mb
-- CROSS JOIN keeps members as the outer loop, so each conversation's inbox
-- rows above the read position are a range of the inbox_unread index.
CROSS JOIN inbox i
    ON i.user_id = mb.user_id
    AND i.conversation_id = mb.conversation_id
    AND i.seq > max(mb.read_seq, mb.join_seq)
JOIN messages m ON m.message_id = i.message_id
WHERE mb.user_id = :user
    AND (mb.leave_seq IS NULL OR i.seq <= mb.leave_seq)
    AND m.sender_id != :user
    AND m.type NOT IN ('recall', 'delete')
    AND {NOT_REMOVED}
GROUP BY i.conversation_id
"""
UNREAD_TIMELINES = f"""
SELECT m.conversation_id, count(*)
FROM members mb
JOIN messages m
    ON m.conversation_id = mb.conversation_id
    AND m.seq > max(mb.read_seq, mb.join_seq)
WHERE mb.user_id = :user
    AND m.via_inbox = 0
    AND (mb.leave_seq IS NULL OR m.seq <= mb.leave_seq)
    AND m.sender_id != :user
    AND m.type NOT IN ('recall', 'delete')
    AND {NOT_REMOVED}
GROUP BY m.conversation_id
"""

# History: a user's visible messages before a seq, newest first. Each
# membership period shows the messages above its history_seq and at most its
# leave_seq. A period that began without earlier history has its join_seq as
# its history_seq.
HISTORY = f"""
SELECT {MESSAGE_COLUMNS}
FROM messages m
WHERE m.conversation_id = :conversation
    AND m.seq < :before
    AND m.type NOT IN ('recall', 'delete')
    AND EXISTS (
        SELECT 1 FROM members mb
        WHERE mb.conversation_id = m.conversation_id AND mb.user_id = :user
            AND m.seq > mb.history_seq
            AND (mb.leave_seq IS NULL OR m.seq <= mb.leave_seq)
    )
    AND {NOT_REMOVED}
ORDER BY m.seq DESC
LIMIT :limit
"""
