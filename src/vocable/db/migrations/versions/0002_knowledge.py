"""knowledge base: documents, their files and, on PostgreSQL, the chunk index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

On SQLite the chunk index lives in its own file (sqlite-vec + FTS5 through pysqlite3,
see vocable.knowledge.sqlite_index). On PostgreSQL it is a table here: pgvector when the
extension can be created, else a portable real[] column searched exactly.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EMBEDDING_DIM = 384


def upgrade() -> None:
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.String(length=2048), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_knowledge_agent", "knowledge_documents", ["agent_id", "created_at"])
    op.create_index("ix_knowledge_org", "knowledge_documents", ["org_id"])
    op.create_index("ix_knowledge_status", "knowledge_documents", ["status", "lease_expires_at"])
    op.create_table(
        "knowledge_files",
        sa.Column("document_id", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["knowledge_documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _create_pg_chunks(bind)


def _create_pg_chunks(bind: sa.engine.Connection) -> None:
    has_vector = True
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except sa.exc.DBAPIError:
        # no pgvector on this server: the portable layout below, searched exactly
        has_vector = False
    embedding = f"vector({EMBEDDING_DIM})" if has_vector else "real[]"
    bind.exec_driver_sql(
        f"""
        CREATE TABLE knowledge_chunks (
            id bigserial PRIMARY KEY,
            document_id varchar(40) NOT NULL
                REFERENCES knowledge_documents(id) ON DELETE CASCADE,
            agent_id varchar(40) NOT NULL,
            org_id varchar(40) NOT NULL,
            generation integer NOT NULL,
            seq integer NOT NULL,
            text text NOT NULL,
            source varchar(512) NOT NULL,
            page integer,
            embedding {embedding} NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
        )
        """
    )
    bind.exec_driver_sql(
        "CREATE INDEX ix_knowledge_chunks_doc ON knowledge_chunks (document_id, generation)"
    )
    bind.exec_driver_sql("CREATE INDEX ix_knowledge_chunks_agent ON knowledge_chunks (agent_id)")
    bind.exec_driver_sql("CREATE INDEX ix_knowledge_chunks_tsv ON knowledge_chunks USING gin (tsv)")
    if has_vector:
        bind.exec_driver_sql(
            "CREATE INDEX ix_knowledge_chunks_embedding ON knowledge_chunks "
            "USING hnsw (embedding vector_cosine_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("knowledge_chunks")
    op.drop_table("knowledge_files")
    op.drop_index("ix_knowledge_status", table_name="knowledge_documents")
    op.drop_index("ix_knowledge_org", table_name="knowledge_documents")
    op.drop_index("ix_knowledge_agent", table_name="knowledge_documents")
    op.drop_table("knowledge_documents")
