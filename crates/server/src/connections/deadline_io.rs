//! A client socket whose reads give up at the connection's deadline (see
//! [`ConnectionPhase`]), and whose writes give up when the client takes none of an
//! answer for `idle_timeout` (a client that sends requests but never reads the
//! answers would otherwise hold its connection forever). Either fails with
//! `TimedOut`, hyper drops the connection, and its socket and slot are free again.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::phase::ConnectionPhase;

pub(crate) struct DeadlineIo<T> {
    inner: T,
    phase: Arc<ConnectionPhase>,
    /// Re-armed whenever the phase's deadline moves; one allocation per connection.
    timer: Pin<Box<Sleep>>,
    /// How long a write may wait for the client to take some of the answer.
    write_stall: Duration,
    /// Running while writes wait; dropped when one makes progress.
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<T> DeadlineIo<T> {
    pub(crate) fn new(inner: T, phase: Arc<ConnectionPhase>, write_stall: Duration) -> Self {
        let first = phase.first_deadline();
        DeadlineIo {
            inner,
            phase,
            timer: Box::pin(tokio::time::sleep_until(first)),
            write_stall,
            write_timer: None,
        }
    }

    /// A write (or flush) went through or failed: the client is taking the answer.
    fn write_done<R>(&mut self, result: io::Result<R>) -> Poll<io::Result<R>> {
        self.write_timer = None;
        Poll::Ready(result)
    }

    /// A write found no room: fail it once the client has taken nothing for
    /// `write_stall`, else wake the task when that time comes.
    fn poll_write_stall<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let stall = self.write_stall;
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took none of the answer in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// A read found nothing: fail it if the deadline has passed, else wake the task
    /// when it does.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(deadline) = self.phase.read_deadline(cx.waker()) else {
            return Poll::Pending;
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client sent no complete request in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.phase.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => this.write_done(result),
            Poll::Pending => this.poll_write_stall(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => this.write_done(result),
            Poll::Pending => this.poll_write_stall(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => this.write_done(result),
            Poll::Pending => this.poll_write_stall(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
