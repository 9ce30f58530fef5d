"""Feed a space through LlamaIndex's IngestionPipeline: parallel workers, upserts by docstore.

Where one machine is no longer the limit of an import (chunking and embedding a whole estate),
LlamaIndex's own engine takes the reader's documents as they stream in: batches of pages go
through the pipeline's transformations in worker processes, and its docstore (keyed by each
document's id, which is the page id) skips what did not change and replaces what did. Swap the
stores for persistent ones (Redis, Postgres, a vector database) and the embedding model for a
real one. Runs offline against the bundled emulator.
"""

import asyncio

from llama_index.core.embeddings import MockEmbedding
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores import SimpleVectorStore

from llama_index_readers_confluence_v2 import ConfluenceReader
from llama_index_readers_confluence_v2.emulator import Emulator

BATCH = 50  # pages per pipeline run: memory stays flat however large the space


async def ingest(reader: ConfluenceReader, pipeline: IngestionPipeline) -> int:
    """Every page of the space through the pipeline, a batch at a time; returns the nodes made.
    (`arun`, the entry point LlamaIndex recommends for parallel work, runs the batch's
    transformations in `num_workers` processes.)"""
    made = 0
    batch = []
    async for page in reader.alazy_load_data(space_key="ENG"):
        batch.append(page)
        if len(batch) == BATCH:
            made += len(await pipeline.arun(documents=batch, num_workers=2))
            batch = []
    if batch:
        made += len(await pipeline.arun(documents=batch, num_workers=2))
    return made


def main() -> None:
    emulator = Emulator(pages=120)
    account = emulator.user()
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=512), MockEmbedding(embed_dim=64)],
        docstore=SimpleDocumentStore(),
        vector_store=SimpleVectorStore(),
        docstore_strategy=DocstoreStrategy.UPSERTS,
    )
    with emulator.serve():
        reader = ConfluenceReader(
            emulator.base_url,
            user_name=account.email,
            api_token=account.api_token,
            api_gateway_url=emulator.gateway_url,
        )
        first = asyncio.run(ingest(reader, pipeline))
        space = emulator.site.space_of("ENG")
        assert space is not None and space.homepage_id is not None
        emulator.site.edit_page(space.homepage_id, body="<p>Rewritten: the release checklist.</p>")
        second = asyncio.run(ingest(reader, pipeline))
    held = len(pipeline.docstore.docs)
    print(f"first run: {first} nodes; after one page changed: {second} nodes; {held} in docstore")


if __name__ == "__main__":  # the pipeline's workers are processes
    main()
