"""Pages and their embedded images in one multimodal index.

Images arrive as ImageDocuments right after their page; their `url` metadata is the same URL
the page's Markdown shows, so text and image can be joined again. Runs offline against the
bundled emulator; use a real multimodal embedding (e.g. CLIP) for your own data.
"""

from llama_index.core.embeddings import MockEmbedding, MockMultiModalEmbedding
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.schema import ImageDocument

from llama_index_readers_confluence_v2 import ConfluenceReader
from llama_index_readers_confluence_v2.emulator import Emulator

emulator = Emulator(pages=120)
account = emulator.user()
with emulator.serve():
    reader = ConfluenceReader(
        emulator.base_url,
        user_name=account.email,
        api_token=account.api_token,
        api_gateway_url=emulator.gateway_url,
    )
    documents = reader.load_data(space_key="DOCS", include_attachments=True)

images = [d for d in documents if isinstance(d, ImageDocument)]
pages = {d.id_: d for d in documents if not isinstance(d, ImageDocument)}
index = MultiModalVectorStoreIndex.from_documents(
    documents,
    embed_model=MockEmbedding(embed_dim=32),  # stands in for a text embedding
    image_embed_model=MockMultiModalEmbedding(embed_dim=32),  # stands in for CLIP
)
print(f"{len(pages)} pages and {len(images)} images indexed")
for image in images[:5]:
    page = pages[image.metadata["page_id"]]
    shown = image.metadata["url"] in page.text
    print(
        f"- {image.metadata['file_name']} ({image.metadata['width']}x{image.metadata['height']}) "
        f"on '{page.metadata['title']}', shown in its Markdown: {shown}"
    )
for skipped in reader.last_report.skipped_images:
    print(f"  skipped: {skipped.reason}")
