[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("KafScale.Avro.Tests")]
