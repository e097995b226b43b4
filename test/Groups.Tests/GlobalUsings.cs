global using KafScale.Protocol;
global using Xunit;
