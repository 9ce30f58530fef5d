"""Import a Confluence space into a LlamaIndex vector index and query it.

Runs offline against the bundled emulator. For your site, build the reader with your
base_url, user_name and api_token (or credential_id=...), and use your own embedding model.
"""

from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding

from llama_index_readers_confluence_v2 import ConfluenceReader
from llama_index_readers_confluence_v2.emulator import Emulator

Settings.embed_model = MockEmbedding(embed_dim=64)  # stands in for a real embedding model

emulator = Emulator(pages=120)
account = emulator.user()
with emulator.serve():
    reader = ConfluenceReader(
        emulator.base_url,
        user_name=account.email,
        api_token=account.api_token,
        api_gateway_url=emulator.gateway_url,
    )
    documents = reader.load_data(space_key="ENG", show_progress=True)

index = VectorStoreIndex.from_documents(documents)
nodes = index.as_retriever(similarity_top_k=3).retrieve("How do we roll out a release?")
print(f"Indexed {len(documents)} pages from space ENG")
for node in nodes:
    print(f"- {node.metadata['path']}  ({node.metadata['url']})")
