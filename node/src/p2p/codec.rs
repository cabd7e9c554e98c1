//! Length-prefixed, size-bounded CBOR codec for the request-response protocol.
//!
//! Frame: 4-byte big-endian length, then that many bytes of CBOR. The length is checked against
//! [`MAX_P2P_MESSAGE_BYTES`] before anything is read or allocated.

use super::messages::{PeerRequest, PeerResponse};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use mpc_protocol::limits::MAX_P2P_MESSAGE_BYTES;
use std::io;

/// The codec (stateless).
#[derive(Debug, Clone, Default)]
pub struct PeerCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_P2P_MESSAGE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_P2P_MESSAGE_BYTES}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    if bytes.len() > MAX_P2P_MESSAGE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "frame of {} bytes exceeds {MAX_P2P_MESSAGE_BYTES}",
                bytes.len()
            ),
        ));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    mpc_protocol::decode(bytes, MAX_P2P_MESSAGE_BYTES)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

fn encode<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    mpc_protocol::encode(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for PeerCodec {
    type Protocol = StreamProtocol;
    type Request = PeerRequest;
    type Response = PeerResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<PeerRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<PeerResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: PeerRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encode(&req)?).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: PeerResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encode(&res)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec;

    #[test]
    fn oversized_frame_is_rejected_before_reading_it() {
        futures::executor::block_on(async {
            let mut bytes = ((MAX_P2P_MESSAGE_BYTES + 1) as u32).to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0u8; 16]);
            let mut io = futures::io::Cursor::new(bytes);
            let err = PeerCodec
                .read_request(&StreamProtocol::new("/t"), &mut io)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        });
    }

    #[test]
    fn garbage_is_an_error_and_round_trip_works() {
        futures::executor::block_on(async {
            let mut io = futures::io::Cursor::new(vec![0, 0, 0, 3, 0xff, 0xff, 0xff]);
            assert!(PeerCodec
                .read_request(&StreamProtocol::new("/t"), &mut io)
                .await
                .is_err());
            let mut out = futures::io::Cursor::new(Vec::new());
            PeerCodec
                .write_request(&StreamProtocol::new("/t"), &mut out, PeerRequest::ReadIndex)
                .await
                .unwrap();
            let mut back = futures::io::Cursor::new(out.into_inner());
            let req = PeerCodec
                .read_request(&StreamProtocol::new("/t"), &mut back)
                .await
                .unwrap();
            assert!(matches!(req, PeerRequest::ReadIndex));
        });
    }
}
