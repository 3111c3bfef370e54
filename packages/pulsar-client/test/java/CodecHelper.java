// Long-lived counterpart for codec tests: compresses and decompresses with Apache Pulsar's own codec classes
// (CompressionCodecProvider), so payloads can be checked against the Java client byte for byte without a JVM start
// per payload.
//
// Requests on stdin, replies on stdout, all integers big-endian:
//   request: op (1 byte: 'C' compress, 'D' decompress), codec (1 byte, wire code), uncompressedSize (int32),
//            length (int32), payload
//   reply:   status (1 byte: 0 ok, 1 failed), length (int32), payload or UTF-8 error text
// The helper prints "READY" on stderr once the codec classes are loaded and ends at end of input.
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.nio.charset.StandardCharsets;
import org.apache.pulsar.common.api.proto.CompressionType;
import org.apache.pulsar.common.compression.CompressionCodec;
import org.apache.pulsar.common.compression.CompressionCodecProvider;

public class CodecHelper {
  public static void main(String[] args) throws Exception {
    DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 20));
    DataOutputStream out = new DataOutputStream(new BufferedOutputStream(System.out, 1 << 20));
    CompressionCodec[] codecs = new CompressionCodec[5];
    for (int code = 0; code < 5; code++) {
      codecs[code] = CompressionCodecProvider.getCompressionCodec(CompressionType.valueOf(code));
    }
    System.err.println("READY");
    System.err.flush();
    while (true) {
      int op;
      try {
        op = in.readUnsignedByte();
      } catch (EOFException end) {
        break;
      }
      int codec = in.readUnsignedByte();
      int uncompressedSize = in.readInt();
      byte[] payload = new byte[in.readInt()];
      in.readFully(payload);
      byte[] result;
      try {
        if (codec >= codecs.length) throw new IllegalArgumentException("unknown codec " + codec);
        ByteBuf input = Unpooled.wrappedBuffer(payload);
        ByteBuf output = op == 'C' ? codecs[codec].encode(input) : codecs[codec].decode(input, uncompressedSize);
        result = new byte[output.readableBytes()];
        output.getBytes(output.readerIndex(), result);
        output.release();
        out.writeByte(0);
      } catch (Throwable err) {
        result = err.toString().getBytes(StandardCharsets.UTF_8);
        out.writeByte(1);
      }
      out.writeInt(result.length);
      out.write(result);
      if (in.available() == 0) out.flush();
    }
    out.flush();
  }
}
