//! A client that speaks HTTP/1.1 by hand over one TCP connection, for what an HTTP
//! library will not do: send half a request, stall mid-body, send a malformed
//! request line, or watch the server close the socket.

#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

pub struct RawClient {
    stream: TcpStream,
    /// Bytes read past the last response.
    unread: Vec<u8>,
}

/// A response as it came on the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts `status` and a JSON `{"error": "<non-empty>"}` body; returns the message.
    pub fn json_error(&self, status: u16) -> String {
        let text = String::from_utf8_lossy(&self.body).into_owned();
        assert_eq!(self.status, status, "unexpected status; body {text:?}");
        let json: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("expected a JSON body ({e}), got {text:?}"));
        let message = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("expected {{\"error\": string}}, got {json}"));
        assert!(!message.is_empty(), "error message is empty: {json}");
        message.to_string()
    }
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the server");
        RawClient {
            stream,
            unread: Vec::new(),
        }
    }

    /// Sends `bytes`; `false` if the server has already closed the connection.
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Reads one whole response (its body by `Content-Length`); panics if none
    /// comes within [`WAIT`].
    pub async fn response(&mut self) -> RawResponse {
        match tokio::time::timeout(WAIT, self.read_response()).await {
            Ok(Some(response)) => response,
            Ok(None) => panic!("the server closed the connection without an answer"),
            Err(_) => panic!("no answer within {WAIT:?}"),
        }
    }

    /// A response if one comes within `patience`: for showing that none does.
    pub async fn response_within(&mut self, patience: std::time::Duration) -> Option<RawResponse> {
        tokio::time::timeout(patience, self.read_response())
            .await
            .ok()
            .flatten()
    }

    /// Whether the server closes the connection (end of stream or reset) within
    /// [`WAIT`]; anything it sends first is skipped.
    pub async fn closed_by_server(&mut self) -> bool {
        let until_closed = async {
            let mut buf = [0u8; 4096];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        };
        tokio::time::timeout(WAIT, until_closed).await.is_ok()
    }

    async fn read_response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(i) = find(&self.unread, b"\r\n\r\n") {
                break i;
            }
            if !self.read_more().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.unread[..head_end]).into_owned();
        self.unread.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while self.unread.len() < length {
            if !self.read_more().await {
                return None;
            }
        }
        let body = self.unread.drain(..length).collect();
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    async fn read_more(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.unread.extend_from_slice(&buf[..n]);
                true
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
